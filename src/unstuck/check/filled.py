"""Blocks that run only once a local collection has been filled.

``pushed = []``, then ``pushed.append(...)`` only under ``if to == Mode.ONLINE:``, then
``if pushed: publish(pushed)``: a call that turns the ``if to == ...`` block off (a
constant argument, see ``FlagBlock``) never fills ``pushed``, so it never publishes.
The walk records, for ``if <local>:`` on a name made empty in the function, the lines
that may fill it. Any use of the name that is not a plain read counts as one: a
mutating method, an item stored, a new binding, the name passed to a call, returned or
aliased. A name used in a nested function or declared ``global`` / ``nonlocal`` is
left alone (it may be filled from elsewhere).
"""

from __future__ import annotations

import ast

from unstuck.check.model import FilledBlock

# Methods that read a collection without changing it.
_READS = frozenset({"copy", "count", "index", "get", "keys", "values", "items", "startswith"})
_EMPTY_CALLS = frozenset({"list", "dict", "set", "tuple", "frozenset", "str"})


def filled_blocks(
    function: ast.FunctionDef | ast.AsyncFunctionDef, tested: list[tuple[str, int, int, int]]
) -> list[FilledBlock]:
    """``tested``: (name, line of the ``if``, first and last line of the block that runs
    when the name is not empty)."""
    names = {name for name, _, _, _ in tested}
    uses: dict[str, list[tuple[ast.AST, ast.AST]]] = {name: [] for name in names}
    unknown: set[str] = set()
    _collect(function.body, function, names, uses, unknown, nested=False)
    blocks: list[FilledBlock] = []
    for name, at, first, last in tested:
        if name in unknown:
            continue
        fills = _fills(uses[name], at)
        if fills is not None:
            # what the block itself does to the name comes after its test: never the
            # first filling
            outside = tuple(line for line in fills if not first <= line <= last)
            blocks.append(FilledBlock(first, last, outside))
    return blocks


def _collect(
    statements: list[ast.stmt],
    parent: ast.AST,
    names: set[str],
    uses: dict[str, list[tuple[ast.AST, ast.AST]]],
    unknown: set[str],
    nested: bool,
) -> None:
    """Every occurrence of the names, with its parent node."""
    pending: list[tuple[ast.AST, ast.AST, bool]] = [(node, parent, nested) for node in statements]
    while pending:
        node, above, inner = pending.pop()
        if isinstance(node, ast.Global | ast.Nonlocal):
            unknown.update(names.intersection(node.names))
        elif isinstance(node, ast.Name) and node.id in names:
            if inner:
                unknown.add(node.id)
            else:
                uses[node.id].append((node, above))
        scoped = inner or isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        )
        pending.extend((child, node, scoped) for child in ast.iter_child_nodes(node))


def _fills(uses: list[tuple[ast.AST, ast.AST]], at: int) -> tuple[int, ...] | None:
    """The lines that may fill the name, or ``None`` when it is not made empty once,
    before the ``if`` at line ``at``."""
    made_empty = 0
    fills: list[int] = []
    for node, parent in uses:
        assert isinstance(node, ast.Name)
        if isinstance(node.ctx, ast.Store):
            if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
                value: ast.expr | None = parent.value
            elif isinstance(parent, ast.AnnAssign):  # ``sent: list[str] = []``
                value = parent.value
            else:
                value = None
            if value is not None and _empty(value) and node.lineno < at:
                made_empty += 1
            else:
                fills.append(node.lineno)
        elif isinstance(node.ctx, ast.Del) or not _read_only(node, parent):
            fills.append(node.lineno)
    if made_empty != 1:
        return None
    return tuple(sorted(set(fills)))


def _empty(value: ast.expr) -> bool:
    match value:
        case ast.List(elts=[]) | ast.Tuple(elts=[]) | ast.Dict(keys=[]):
            return True
        case ast.Constant(value=constant):
            return constant is None or constant in ("", 0, False)
        case ast.Call(func=ast.Name(id=called), args=[], keywords=[]):
            return called in _EMPTY_CALLS
    return False


def _read_only(node: ast.Name, parent: ast.AST) -> bool:
    """A use that cannot fill the name: its truth tested, its length, a comparison, an
    iteration over it, an item read, a method that only reads (``pushed or other``
    may alias it: not one of these)."""
    match parent:
        case ast.If(test=test) | ast.While(test=test) | ast.IfExp(test=test):
            return test is node
        case ast.UnaryOp(op=ast.Not()) | ast.Compare():
            return True
        case ast.Call(func=ast.Name(id="len" | "bool" | "any" | "all" | "sorted"), args=[first]):
            return first is node
        case (
            ast.For(iter=iterated) | ast.AsyncFor(iter=iterated) | ast.comprehension(iter=iterated)
        ):
            return iterated is node
        case ast.Subscript(value=value, ctx=ast.Load()):
            return value is node
        case ast.Attribute(attr=attr):
            return attr in _READS
    return False
