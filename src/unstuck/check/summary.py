"""What the global analysis keeps of one file: ``summarize_file`` and its suppressions.

Each file is read (honouring a PEP 263 coding cookie), parsed, and walked once by
``statements.ModuleWalker`` into a ``ModuleSummary``; this runs in a process pool, so a
file that cannot be read, parsed or walked gives the reason instead of stopping the run.
``# noqa`` and ``# unstuck: ignore[...]`` comments are collected per line.
"""

from __future__ import annotations

import io
import re
import tokenize

from unstuck.check.model import ModuleSummary
from unstuck.check.parsing import parse_source
from unstuck.check.statements import ModuleWalker

_SUPPRESSION = re.compile(
    r"#\s*(?:noqa(?::\s*(?P<noqa>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?"
    r"|unstuck:\s*ignore(?:\[(?P<ignore>[^\]]*)\])?)"
)


def summarize_file(path: str, module: str, is_package: bool) -> ModuleSummary | str:
    """Summary of the file, or the reason it cannot be analyzed."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        # PEP 263: a coding cookie may name another encoding than UTF-8
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError) as exc:
        return f"cannot be read: {exc}"
    parsed = parse_source(text, path)
    if parsed.tree is None:
        return parsed.note or "cannot be parsed"
    summary = ModuleSummary(module, path, is_package)
    summary.syntax_note = parsed.note
    try:
        ModuleWalker(summary).walk_module(parsed.tree)
    except RecursionError:
        return "cannot be analyzed: expressions nested too deeply"
    except Exception as exc:  # one odd file must not stop the whole run
        return f"cannot be analyzed ({type(exc).__name__}: {exc}); please report this file"
    if "noqa" in text or "unstuck:" in text:
        summary.suppressions = _suppressions(text)
    return summary


def _suppressions(text: str) -> dict[int, frozenset[str] | None]:
    found: dict[int, frozenset[str] | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        match = _SUPPRESSION.search(line)
        if match is None:
            continue
        codes = match.group("noqa") or match.group("ignore")
        found[number] = frozenset(re.findall(r"[A-Z]+[0-9]+", codes)) if codes else None
    return found
