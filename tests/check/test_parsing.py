"""The tolerant parser: newer syntax keeps its line numbers, nothing is dropped silently."""

from __future__ import annotations

import ast
import sys

import pytest

from unstuck.check.parsing import parse_source

# These cases are about syntax newer than the interpreter running the tests.
before_312 = pytest.mark.skipif(sys.version_info >= (3, 12), reason="parses natively on 3.12+")
before_314 = pytest.mark.skipif(sys.version_info >= (3, 14), reason="parses natively on 3.14+")


def _lines(tree: ast.Module | None) -> dict[str, int]:
    assert tree is not None
    return {
        node.name: node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def test_plain_source_has_no_note() -> None:
    parsed = parse_source("x = 1\n", "a.py")
    assert parsed.tree is not None and parsed.note is None


@before_312
def test_pep695_generics_and_type_statement_keep_line_numbers() -> None:
    source = (
        "type A[T] = list[T]\n\nclass Box[T: int]:\n    pass\n\n"
        "async def f[T](x: T) -> T:\n    return x\n"
    )
    parsed = parse_source(source, "a.py")
    assert parsed.note is not None and "type statement" in parsed.note
    assert _lines(parsed.tree) == {"Box": 3, "f": 6}
    assert parsed.tree is not None
    assert isinstance(parsed.tree.body[0], ast.Assign)


@before_314
def test_except_without_parentheses() -> None:
    source = "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n"
    parsed = parse_source(source, "a.py")
    assert parsed.note is not None and "except without parentheses" in parsed.note
    assert parsed.tree is not None
    handler = parsed.tree.body[0].handlers[0]  # type: ignore[attr-defined]
    assert isinstance(handler.type, ast.Tuple) and handler.lineno == 3


def test_unknown_syntax_keeps_the_blocks_that_parse() -> None:
    source = "def ok():\n    pass\n\nx = 1 +\n\nasync def later():\n    pass\n"
    parsed = parse_source(source, "a.py")
    assert _lines(parsed.tree) == {"ok": 1, "later": 6}
    assert parsed.note is not None and "lines 4-5 not analyzed" in parsed.note


def test_nothing_parses() -> None:
    parsed = parse_source("def (:\n", "a.py")
    assert parsed.tree is None
    assert parsed.note is not None and parsed.note.startswith("SyntaxError")


def test_nul_bytes() -> None:
    parsed = parse_source("x = 1\0\n", "a.py")
    assert parsed.tree is None and parsed.note is not None


@before_312
def test_pep701_fstrings_keep_their_function_and_line_numbers() -> None:
    source = (
        "import time\n\n"
        "async def route(data):\n"
        '    label = f"{data["name"]}: {"\\n".join(data["tags"])}"\n'
        "    time.sleep(1)\n"
        "    return label\n\n"
        "async def other():\n"
        "    pass\n"
    )
    parsed = parse_source(source, "a.py")
    assert parsed.note == "newer Python syntax (f-strings of Python 3.12) analyzed"
    assert _lines(parsed.tree) == {"route": 3, "other": 8}


@before_312
def test_fstrings_this_python_parses_are_left_as_they_are() -> None:
    source = (
        "def f(error, width):\n"
        "    return f\"failed{f': {error}' if error else '.'} {error!r:>{width}} {{x}}\"\n"
        "class Box[T]:\n"
        "    pass\n"
    )
    parsed = parse_source(source, "a.py")
    assert parsed.note == "newer Python syntax (type parameters) analyzed"
    assert parsed.tree is not None
    function = parsed.tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    returned = function.body[0]
    assert isinstance(returned, ast.Return) and isinstance(returned.value, ast.JoinedStr)


@before_312
def test_type_parameters_over_several_lines_keep_the_class() -> None:
    source = (
        "class Service[\n"
        "    Model: Base,  # a comment [with brackets]\n"
        "    Schema,\n"
        "](Generic):\n"
        "    async def get(self):\n"
        "        pass\n"
    )
    parsed = parse_source(source, "a.py")
    assert parsed.note == "newer Python syntax (type parameters) analyzed"
    assert _lines(parsed.tree) == {"Service": 1, "get": 5}
