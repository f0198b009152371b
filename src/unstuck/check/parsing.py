"""Parse source written for any Python 3, on the interpreter that runs the checker.

A plain ``ast.parse`` first. When that fails, the few constructs newer than the
running interpreter (``type X = ...``, PEP 695 generics and PEP 701 f-strings from
3.12, unparenthesized ``except A, B:`` and t-strings from 3.14) are rewritten into
equivalents this interpreter parses, keeping every line number. If it still fails, the top-level
statements are parsed one block at a time and only the blocks that do not parse are
left out. Every fallback is reported: nothing is skipped silently.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_TYPE_ALIAS = re.compile(
    r"^(?P<indent>[ \t]*)type[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]*(?=[\[=])", re.M
)
_GENERIC_DEF = re.compile(
    r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+[A-Za-z_]\w*[ \t]*(?=\[)", re.M
)
_BARE_EXCEPT_TUPLE = re.compile(
    r"^(?P<head>[ \t]*except\*?[ \t]+)(?P<types>[^\s(][^:#\n]*,[^:#\n]*):", re.M
)
_ASSIGNMENT = re.compile(r"[ \t]*=(?!=)")
_COMMENT_OR_STRING = re.compile(
    r"""(?P<comment>#)|(?<!\w)(?P<prefix>[rRbBuUfF]{0,2})(?P<quote>'''|\"\"\"|'|")"""
)
# The body of a plain string, up to its closing quote (not included).
_PLAIN_BODY = {
    "'": re.compile(r"(?:[^'\\\n]|\\.)*", re.S),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*', re.S),
    "'''": re.compile(r"(?:[^'\\]|\\.|'(?!''))*", re.S),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*', re.S),
}
# the ``t`` of a t-string's prefix (what comes before it is checked apart: a search
# led by a look-behind would try every position of the file)
_TEMPLATE_PREFIX = re.compile(r"[tT](?=[rR]?['\"])")


@dataclass(frozen=True, slots=True)
class Parsed:
    tree: ast.Module | None
    note: str | None  # how the fallback got there, or why nothing could be parsed


def parse_source(text: str, filename: str) -> Parsed:
    try:
        return Parsed(ast.parse(text, filename), None)
    except SyntaxError as exc:
        # Without its traceback: kept, it would hold this frame, and so the tree parsed
        # below, in a cycle that only the garbage collector (off during a run) frees.
        error = exc.with_traceback(None)
    except ValueError as exc:  # source with NUL bytes
        return Parsed(None, f"cannot be parsed: {exc}")
    except (RecursionError, MemoryError):
        return Parsed(None, "cannot be parsed: nested too deeply for Python's parser")
    rewritten, constructs = _rewrite_newer_syntax(text)
    if constructs:
        parsed = _parse_rewritten(rewritten, filename, constructs)
        if parsed is not None:
            return parsed
    # Last, as it is the one rewrite that scans every string: most files of newer
    # syntax only need the ones above.
    rewritten, count = _rewrite_new_fstrings(rewritten)
    if count:
        parsed = _parse_rewritten(rewritten, filename, [*constructs, "f-strings of Python 3.12"])
        if parsed is not None:
            return parsed
    return _parse_blocks(rewritten, filename, error)


def _parse_rewritten(text: str, filename: str, constructs: list[str]) -> Parsed | None:
    try:
        tree = ast.parse(text, filename)
    except SyntaxError:
        return None
    return Parsed(tree, "newer Python syntax (" + ", ".join(sorted(constructs)) + ") analyzed")


def _rewrite_newer_syntax(text: str) -> tuple[str, list[str]]:
    constructs: list[str] = []
    chars = list(text)

    def blank_brackets(start: int) -> int:
        """Blank ``[...]`` starting at ``start`` (spaces keep every column); return its end.

        Brackets over several lines leave a backslash at the end of each of them, so
        that the statement still continues on the next line.
        """
        depth = 0
        for index in range(start, len(text)):
            char = text[index]
            if char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
                if depth == 0:
                    for blank in range(start, index + 1):
                        if chars[blank] != "\n":
                            chars[blank] = " "
                        elif blank > start:
                            chars[blank - 1] = "\\"
                    return index + 1
        return start

    for match in _TYPE_ALIAS.finditer(text):
        end = match.end()
        if end < len(text) and text[end] == "[":
            end = blank_brackets(end)
        if _ASSIGNMENT.match(text, end) is None:
            continue
        keyword = match.start() + len(match.group("indent"))
        # "type X = v" -> "X    = v": the statement becomes an assignment in place.
        name = match.group("name")
        for offset, char in enumerate(name + " " * 5):
            chars[keyword + offset] = char
        constructs.append("type statement")
    for match in _GENERIC_DEF.finditer(text):
        blank_brackets(match.end())
        constructs.append("type parameters")
    source = "".join(chars)
    source, count = _BARE_EXCEPT_TUPLE.subn(r"\g<head>(\g<types>):", source)
    if count:
        constructs.append("except without parentheses")
    source, count = _rewrite_template_strings(source)
    if count:
        constructs.append("template strings")
    return source, sorted(set(constructs))


def _rewrite_template_strings(text: str) -> tuple[str, int]:
    """``t"..."`` becomes ``f"..."``: the same expressions, evaluated the same way."""
    pieces: list[str] = []
    done = 0
    for match in _TEMPLATE_PREFIX.finditer(text):
        start = match.start()
        prefix_start = start - 1 if start and text[start - 1] in "rR" else start
        before = text[prefix_start - 1] if prefix_start else ""
        if before and (before.isalnum() or before in "_.'\""):
            continue  # the end of a name or of another string, not a prefix
        pieces.append(text[done:start])
        pieces.append("f")
        done = start + 1
    if not pieces:
        return text, 0
    pieces.append(text[done:])
    return "".join(pieces), len(pieces) // 2


def _rewrite_new_fstrings(text: str) -> tuple[str, int]:
    """PEP 701 f-strings (the same quotes, a backslash, a comment or a line break inside
    their braces) become plain strings of the same shape: every line stays where it is,
    and only what the f-string held is lost.

    The scan jumps from one comment or string to the next with a regular expression, and
    over plain strings with another: only f-strings are walked character by character.
    """
    chars: list[str] | None = None
    count = 0
    index = 0
    while True:
        match = _COMMENT_OR_STRING.search(text, index)
        if match is None:
            break
        if match.group("comment"):
            end = text.find("\n", match.start())
            if end < 0:
                break
            index = end
            continue
        prefix, quote = match.group("prefix"), match.group("quote")
        end, newer = _string_end(text, match.end(), quote, prefix)
        if newer and "f" in prefix.lower():
            if chars is None:
                chars = list(text)
            count += _blank_string(chars, match.start(), end)
        index = max(end, match.start() + 1)
    return ("".join(chars) if chars is not None else text), count


def _string_end(text: str, index: int, quote: str, prefix: str) -> tuple[int, bool]:
    """Where the string whose body starts at ``index`` ends, and whether it needs 3.12.

    Inside an f-string's braces: ``depth`` counts the brackets open, and ``spec`` is set
    after the ``:`` of the replacement field itself, whose format spec is text again.
    """
    raw = "r" in prefix.lower()
    formatted = "f" in prefix.lower()
    if not formatted:
        # A plain string ends at its first unescaped quote (a backslash escapes the
        # quote in a raw string too); a one-line string at a line break, unterminated.
        body = _PLAIN_BODY[quote].match(text, index)
        position = body.end() if body is not None else index
        if text.startswith(quote, position):
            return position + len(quote), False
        return position, False
    depth = 0
    spec = False
    newer = False
    while index < len(text):
        char = text[index]
        if depth == 0 or (spec and depth == 1 and char not in "{}"):
            if depth == 0 and text.startswith(quote, index):
                return index + len(quote), newer
            if char == "\\" and not raw:
                index += 2
            elif char == "\n" and len(quote) == 1:
                return index, newer  # unterminated: the parser reports it
            elif formatted and depth == 0 and text.startswith("{{", index):
                index += 2
            else:
                depth += formatted and char == "{"
                index += 1
            continue
        if char in "'\"":
            quoted = char * 3 if text.startswith(char * 3, index) else char
            newer = newer or quoted == quote or (len(quote) == 1 and quoted[0] == quote)
            start = index
            inner_prefix = _prefix_before(text, index)
            index, inner_newer = _string_end(text, index + len(quoted), quoted, inner_prefix)
            newer = newer or inner_newer or "\\" in text[start:index]
            continue
        if char in "\\#" or (char == "\n" and len(quote) == 1):
            newer = True
        if char == ":" and depth == 1 and not text.startswith(":=", index):
            spec = True
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            spec = spec and depth > 0
        index += 1
    return index, newer


def _prefix_before(text: str, index: int) -> str:
    """The string prefix (``f``, ``rb``...) written just before the quote at ``index``."""
    start = index
    while start > 0 and index - start < 2 and text[start - 1] in "rRbBuUfF":
        start -= 1
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return ""  # the end of a name, not a prefix
    return text[start:index]


def _blank_string(chars: list[str], start: int, end: int) -> bool:
    """Replace ``chars[start:end]`` by an empty string literal of the same shape."""
    multiline = "\n" in chars[start:end]
    delimiter = '"""' if multiline else '"'
    if end - start < 2 * len(delimiter):
        return False
    for position in range(start, end):
        if chars[position] != "\n":
            chars[position] = " "
    chars[start : start + len(delimiter)] = delimiter
    chars[end - len(delimiter) : end] = delimiter
    return True


_CONTINUATION = ("else", "elif", "except", "finally", "case", ")", "]", "}", "#")


def _block_starts(lines: list[str]) -> list[int]:
    starts: list[int] = []
    after_decorator = False
    for number, line in enumerate(lines):
        if not line.strip() or line[0] in " \t" or line.startswith(_CONTINUATION):
            continue
        if not after_decorator:
            starts.append(number)
        after_decorator = line.startswith("@")
    return starts


def _parse_blocks(text: str, filename: str, error: SyntaxError) -> Parsed:
    lines = text.splitlines(keepends=True)
    starts = [*_block_starts(lines), len(lines)]
    last = len(starts) - 1
    body: list[ast.stmt] = []
    skipped: list[list[int]] = []
    index = 0
    while index < last:
        parsed_width = 0
        # A block may hold column-0 lines (long strings): try it with the next few.
        for width in range(1, min(6, last - index + 1)):
            chunk = "".join(lines[starts[index] : starts[index + width]])
            try:
                tree = ast.parse(chunk, filename)
            except (SyntaxError, ValueError):
                continue
            ast.increment_lineno(tree, starts[index])
            body.extend(tree.body)
            parsed_width = width
            break
        if parsed_width:
            index += parsed_width
            continue
        first, end = starts[index] + 1, starts[index + 1]
        if skipped and skipped[-1][1] == first - 1:
            skipped[-1][1] = end
        else:
            skipped.append([first, end])
        index += 1
    where = f"line {error.lineno}" if error.lineno else "unknown line"
    reason = f"SyntaxError: {error.msg} ({where})"
    if not body:
        return Parsed(None, reason)
    ranges = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in skipped)
    return Parsed(
        ast.Module(body=body, type_ignores=[]),
        f"{reason}; lines {ranges} not analyzed, the rest of the file was",
    )
