"""The lab's three outputs: the console, ``results.json`` and a self-contained ``report.html``.

The console gets one block per claim as soon as it is measured, then a verdict
table. ``results.json`` holds every number of the run (non-finite numbers as
``null``). ``report.html`` embeds its plots as data URIs, so the file alone
can be mailed or archived; the PNG files are written next to it as well.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unstuck.lab.claim import Result, Verdict

_VERDICT_COLORS = {
    Verdict.HOLDS: "#1a7f37",
    Verdict.CORRECTED: "#9a6700",
    Verdict.DOES_NOT_HOLD: "#cf222e",
    Verdict.NOT_MEASURED: "#6e7781",
}


def ratio_text(ratio: float | None) -> str:
    if ratio is None or not math.isfinite(ratio):
        return "-"
    return f"{ratio:.2f}x"


def console_block(index: int, result: Result) -> str:
    finding = result.finding
    lines = [
        f"[{index}] {result.claim.title}  ({result.claim.name}, {result.duration_s:.1f} s)",
        f"    article:  {result.claim.article}",
        f"    measured: {finding.measured}",
        f"    ideal:    {finding.ideal}",
        f"    ratio:    {ratio_text(finding.ratio)} ({result.claim.ratio_of})",
        f"    verdict:  {finding.verdict.value.upper()} - {finding.explanation}",
    ]
    return "\n".join(lines)


def verdict_table(results: Sequence[Result]) -> str:
    rows = [("claim", "ratio", "verdict")]
    rows += [(r.claim.name, ratio_text(r.finding.ratio), r.finding.verdict.value) for r in results]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def as_json(results: Sequence[Result], run: dict[str, Any]) -> dict[str, Any]:
    claims = []
    for result in results:
        finding = result.finding
        claims.append(
            {
                "id": result.claim.name,
                "title": result.claim.title,
                "claim": result.claim.article,
                "measured": finding.measured,
                "ideal": finding.ideal,
                "ratio": finding.ratio,
                "ratio_of": result.claim.ratio_of,
                "verdict": finding.verdict.value,
                "value": finding.value,
                "ideal_value": finding.ideal_value,
                "unit": finding.unit,
                "explanation": finding.explanation,
                "metrics": finding.metrics,
                "plots": finding.plots,
                "duration_s": result.duration_s,
                "error": result.error,
            }
        )
    document: dict[str, Any] = _finite({"run": run, "claims": claims})
    return document


def write_json(path: Path, results: Sequence[Result], run: dict[str, Any]) -> None:
    text = json.dumps(as_json(results, run), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def _image(directory: Path, filename: str) -> str:
    try:
        data = base64.b64encode((directory / filename).read_bytes()).decode("ascii")
    except OSError:
        return f"<p>(plot {html.escape(filename)} is missing)</p>"
    alt = html.escape(filename)
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #d0d7de; padding: .35rem .5rem; text-align: left;
         vertical-align: top; }
.verdict { font-weight: 600; white-space: nowrap; }
section { border-top: 2px solid #d0d7de; margin-top: 2rem; }
dt { font-weight: 600; } dd { margin: 0 0 .5rem 1.5rem; }
img { max-width: 100%; border: 1px solid #d0d7de; }
code, pre { font-size: 13px; } pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; }
"""


def _verdict_cell(verdict: Verdict) -> str:
    color = _VERDICT_COLORS[verdict]
    return f'<span class="verdict" style="color:{color}">{html.escape(verdict.value)}</span>'


def write_html(directory: Path, results: Sequence[Result], run: dict[str, Any]) -> Path:
    escape = html.escape
    summary_rows = "".join(
        f'<tr><td><a href="#{escape(r.claim.name)}">{escape(r.claim.title)}</a></td>'
        f"<td>{escape(r.finding.measured)}</td><td>{escape(r.finding.ideal)}</td>"
        f"<td>{escape(ratio_text(r.finding.ratio))}<br><small>{escape(r.claim.ratio_of)}</small></td>"
        f"<td>{_verdict_cell(r.finding.verdict)}</td></tr>"
        for r in results
    )
    sections = []
    for result in results:
        finding = result.finding
        metrics = json.dumps(_finite(finding.metrics), indent=2, allow_nan=False)
        images = "".join(_image(directory, plot) for plot in finding.plots)
        sections.append(
            f'<section id="{escape(result.claim.name)}"><h2>{escape(result.claim.title)}</h2>'
            f"<dl><dt>The article</dt><dd>{escape(result.claim.article)}</dd>"
            f"<dt>Measured</dt><dd>{escape(finding.measured)}</dd>"
            f"<dt>Ideal or limit</dt><dd>{escape(finding.ideal)}</dd>"
            f"<dt>Ratio</dt><dd>{escape(ratio_text(finding.ratio))}: "
            f"{escape(result.claim.ratio_of)}</dd>"
            f"<dt>Verdict</dt><dd>{_verdict_cell(finding.verdict)}: "
            f"{escape(finding.explanation)}</dd></dl>{images}"
            f"<details><summary>All numbers of this claim</summary><pre>{escape(metrics)}</pre>"
            f"</details></section>"
        )
    run_line = ", ".join(f"{key}: {value}" for key, value in run.items())
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>unstuck lab report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>unstuck lab: the article's claims, measured</h1>"
        f"<p>{escape(run_line)}</p>"
        "<table><tr><th>claim</th><th>measured</th><th>ideal or limit</th><th>ratio (of what)</th>"
        f"<th>verdict</th></tr>{summary_rows}</table>{''.join(sections)}</body></html>\n"
    )
    path = directory / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
