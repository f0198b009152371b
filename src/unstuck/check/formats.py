"""Output formats: text (ruff-like), json (the contract), sarif 2.1.0, github annotations."""

from __future__ import annotations

from pathlib import Path

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start. The records are
# only named in annotations: a report without routes never loads the route map's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from unstuck.check.engine import Report
    from unstuck.check.findings import Finding
    from unstuck.check.routes import Dependency, Route
    from unstuck.check.rule import Rule

FORMATS = ("text", "json", "sarif", "github")


def render(report: Report, fmt: str, routes: bool) -> str:
    if fmt == "json":
        import json  # here: the text format, the default, never needs it

        return json.dumps(report.as_json(), indent=2)
    if fmt == "sarif":
        import json

        from unstuck.check.rules import ALL_RULES

        return json.dumps(sarif(report, {rule.code: rule for rule in ALL_RULES}), indent=2)
    if fmt == "github":
        return github(report)
    return (route_map_text(report.routes) + "\n" if routes else "") + text(report)


def text(report: Report) -> str:
    lines: list[str] = []
    for finding in report.findings:
        lines.extend(_finding_lines(finding))
    if report.once_per_process:
        lines.append("Once per process (startup, import time, CLI, memoised; not per request):")
        for finding in report.once_per_process:
            lines.extend(_finding_lines(finding))
    for problem in report.not_parsed:
        lines.append(f"{problem.path}: not parsed: {problem.reason}")
    for problem in report.newer_syntax:
        lines.append(f"{problem.path}: note: {problem.reason}")
    count = len(report.findings)
    files = report.analyzed
    summary = f"{_plural(count, 'finding')} in {_plural(files, 'file')}"
    if report.not_parsed:
        summary += f" ({len(report.not_parsed)} not parsed)"
    lines.append(summary if count or report.not_parsed else f"All clear: {summary}.")
    return "\n".join(lines)


def _finding_lines(finding: Finding) -> list[str]:
    lines = [f"{finding.path}:{finding.line}:{finding.column}: {finding.code} {finding.message}"]
    if finding.once:
        lines.append(f"    once per process: {finding.once}")
    if len(finding.routes) > 1:
        lines.append(f"    routes ({len(finding.routes)}): {', '.join(finding.routes)}")
    elif finding.route:
        lines.append(f"    route: {finding.route}")
    if len(finding.chain) > 1:
        for link in finding.chain:
            lines.append(f"    -> {link.path}:{link.line} in {link.function}")
    if len(finding.entries) > 1:
        lines.append(f"    also reached from {len(finding.entries) - 1} other place(s):")
        for link in finding.entries:
            if link != finding.chain[0]:
                lines.append(f"    <- {link.path}:{link.line} in {link.function}")
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def route_map_text(routes: list[Route]) -> str:
    if not routes:
        return "No routes found."
    lines: list[str] = []
    for route in routes:
        lines.append(f"{route.label}  {route.handler}  ({route.location[0]}:{route.location[1]})")
        lines.append(f"    runs on: {route.runs}")
        if route.dependencies:
            lines.append("    dependencies:")
            lines.extend(_dependency_lines(route.dependencies, 3))
        for item in route.blocking:
            lines.append(
                f"    blocks ({item.runs}): {item.path}:{item.line} {item.code} {item.message}"
            )
        if route.wrapped_by:
            lines.append("    wrapped by:")
            for wrapping in route.wrapped_by:
                where = f" ({wrapping.path}:{wrapping.line})" if wrapping.path else " (library)"
                lines.append(f"      {wrapping.kind} {wrapping.name} [{wrapping.runs}]{where}")
                for item in wrapping.blocking:
                    lines.append(
                        f"        blocks ({item.runs}): {item.path}:{item.line} {item.code}"
                        f" {item.message}"
                    )
        lines.append(f"    advice: {route.advice}")
        lines.append("")
    from unstuck.check.routes import EVENT_LOOP, THREAD_POOL  # loaded with the routes

    on_loop = sum(1 for route in routes if route.runs == EVENT_LOOP)
    in_pool = sum(1 for route in routes if route.runs == THREAD_POOL)
    unknown = len(routes) - on_loop - in_pool  # a library's endpoint
    stalling = [route for route in routes if route.advice.startswith("blocks the event loop")]
    lines.append(
        f"{_plural(len(routes), 'route')}: {on_loop} on the event loop, "
        f"{in_pool} in the thread pool{f', {unknown} not known' if unknown else ''}; "
        f"{len(stalling)} can block the event loop"
    )
    return "\n".join(lines)


def _dependency_lines(dependencies: list[Dependency], depth: int) -> list[str]:
    lines: list[str] = []
    pad = "  " * depth
    for dependency in dependencies:
        where = f" ({dependency.path}:{dependency.line})" if dependency.path else " (library)"
        lines.append(f"{pad}{dependency.name} [{dependency.runs}]{where}")
        for item in dependency.blocking:
            lines.append(
                f"{pad}  blocks ({item.runs}): {item.path}:{item.line} {item.code} {item.message}"
            )
        lines.extend(_dependency_lines(dependency.dependencies, depth + 1))
    return lines


def github(report: Report) -> str:
    lines = []
    for finding in report.findings:
        level = "error" if finding.severity == "error" else "warning"
        lines.append(
            f"::{level} file={_property(finding.path)},line={finding.line},"
            f"col={finding.column},title={finding.code}::{_data(finding.message)}"
        )
    for problem in report.not_parsed:
        lines.append(
            f"::warning file={_property(problem.path)},title=not parsed::{_data(problem.reason)}"
        )
    return "\n".join(lines)


def _data(text: str) -> str:
    """Escape a workflow-command message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow-command property value."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def sarif(report: Report, rules: dict[str, Rule]) -> dict[str, object]:
    used = sorted({finding.code for finding in report.findings})
    index = {code: position for position, code in enumerate(used)}
    results = []
    for finding in report.findings:
        result: dict[str, object] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": "error" if finding.severity == "error" else "warning",
            "message": {"text": finding.message},
            "locations": [_location(finding.path, finding.line, finding.column)],
        }
        if len(finding.chain) > 1:
            result["codeFlows"] = [
                {
                    "threadFlows": [
                        {
                            "locations": [
                                {
                                    "location": {
                                        **_location(link.path, link.line, None),
                                        "message": {"text": link.function},
                                    }
                                }
                                for link in finding.chain
                            ]
                        }
                    ]
                }
            ]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "unstuck",
                        "informationUri": "https://pypi.org/project/unstuck/",
                        "rules": [_sarif_rule(rules[code]) for code in used],
                    }
                },
                "results": results,
            }
        ],
    }


def _location(path: str, line: int, column: int | None) -> dict[str, object]:
    region: dict[str, int] = {"startLine": line}
    if column is not None:
        region["startColumn"] = column
    # relative paths are relative to the checkout; anything else needs a file: URI
    uri = Path(path).as_uri() if Path(path).is_absolute() else path
    return {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}


def _sarif_rule(rule: Rule) -> dict[str, object]:
    from unstuck.check.explain import explain

    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": f"{rule.name}: {rule.summary}"},
        "fullDescription": {"text": f"Reports {rule.catches}"},
        # code scanning shows it next to the alert: the whole ``--explain`` text
        "help": {"text": explain(rule)},
        "defaultConfiguration": {"level": "error" if rule.severity == "error" else "warning"},
    }
