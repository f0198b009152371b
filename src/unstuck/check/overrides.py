"""Route registration methods a router class overrides, played on each route's path.

FastAPI's route decorators end in ``self.add_api_route(path, ...)`` (``get`` calls
``api_route``, which calls ``add_api_route``), so a subclass of ``APIRouter`` that
overrides one of them runs its own code for every route: typically to register each
path again with or without a trailing slash, or under a changed path::

    class SlashRouter(APIRouter):
        def add_api_route(self, path, endpoint, **kwargs):
            super().add_api_route(path, endpoint, **kwargs)
            if path.endswith("/"):
                path = path[:-1]
            else:
                path = path + "/"
            super().add_api_route(path, endpoint, **kwargs)

While summarising, ``path_variants`` reads such an override into ``PathVariant``
records: for each ``super().<method>(path, ...)`` call, the steps from the path it was
given to the path it passes on (text added or cut, and the tests of ``if`` blocks on
the way: ``endswith``, ``startswith``, ``==``); the steps it reads are constant text
added before or after, slices with constant bounds, ``strip`` and its kin,
``removesuffix``/``removeprefix``, f-strings around the path, and ``path or "/"``.
The route map then plays them on the path of each route registered on an instance of
the class (``apply``). A test it
cannot read lets both branches happen; a path computed in a way it cannot read makes
the override count as absent (the path stays as written).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# the methods whose overrides are played, in the order FastAPI calls them
REGISTRATION_METHODS = ("api_route", "add_api_route")
# alternatives followed through ``if`` blocks: a bound on what one override yields
_MAX_STATES = 16


@dataclass(frozen=True, slots=True)
class Append:
    text: str


@dataclass(frozen=True, slots=True)
class Prepend:
    text: str


@dataclass(frozen=True, slots=True)
class Cut:
    """``path[start:stop]`` with constant bounds."""

    start: int | None
    stop: int | None


@dataclass(frozen=True, slots=True)
class Strip:
    """``rstrip``, ``lstrip``, ``strip``, ``removesuffix``, ``removeprefix``."""

    how: str
    chars: str | None


@dataclass(frozen=True, slots=True)
class OrElse:
    """``path or "/"``: the text when the path is empty."""

    text: str


@dataclass(frozen=True, slots=True)
class Require:
    """The path as it is now passes ``test`` (``endswith``, ``startswith``, ``==``)
    with ``text``, or fails it when ``expected`` is false."""

    test: str
    text: str
    expected: bool


Step = Append | Prepend | Cut | Strip | OrElse | Require


@dataclass(frozen=True, slots=True)
class PathVariant:
    """One registration the override makes: the steps from its path to the one passed on."""

    steps: tuple[Step, ...]


def apply(variant: PathVariant, path: str) -> str | None:
    """The path registered for ``path``, or None when a test on the way fails."""
    for step in variant.steps:
        match step:
            case Append():
                path = path + step.text
            case Prepend():
                path = step.text + path
            case Cut():
                path = path[step.start : step.stop]
            case Strip():
                path = _strip(path, step)
            case OrElse():
                path = path or step.text
            case Require():
                if _passes(path, step) != step.expected:
                    return None
    return path


def _strip(path: str, step: Strip) -> str:
    match step.how:
        case "rstrip":
            return path.rstrip(step.chars)
        case "lstrip":
            return path.lstrip(step.chars)
        case "strip":
            return path.strip(step.chars)
        case "removesuffix":
            return path.removesuffix(step.chars or "")
        case _:
            return path.removeprefix(step.chars or "")


def _passes(path: str, step: Require) -> bool:
    if step.test == "endswith":
        return path.endswith(step.text)
    if step.test == "startswith":
        return path.startswith(step.text)
    return path == step.text


def path_variants(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[PathVariant, ...]:
    """What an override of a registration method passes on to its base class's method
    (empty when it passes nothing it can read, or is not such an override)."""
    if node.name not in REGISTRATION_METHODS:
        return ()
    arguments = [*node.args.posonlyargs, *node.args.args]
    if len(arguments) < 2:
        return ()
    player = _Player(arguments[1].arg)
    player.block(node.body, [()])
    if player.unreadable:
        return ()
    return tuple(dict.fromkeys(PathVariant(steps) for steps in player.found))


# A state: the steps so far, from the path the override was given to the current value.
_State = tuple[Step, ...]


class _Player:
    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[_State] = []
        self.unreadable = False

    def block(self, statements: list[ast.stmt], states: list[_State]) -> list[_State]:
        for statement in statements:
            if not states or self.unreadable:
                return states
            states = self.statement(statement, states)
        return states

    def statement(self, node: ast.stmt, states: list[_State]) -> list[_State]:
        match node:
            case ast.Assign(targets=[ast.Name(id=name)], value=value) if name == self.name:
                steps = self.steps(value)
                if steps is None:
                    self.unreadable = True
                    return states
                return [state + steps for state in states]
            case ast.AugAssign(target=ast.Name(id=name), op=ast.Add(), value=value) if (
                name == self.name
            ):
                text = _text(value)
                if text is None:
                    self.unreadable = True
                    return states
                return [(*state, Append(text)) for state in states]
            case ast.Assign(value=value) | ast.AnnAssign(value=value) if value is not None:
                # ``primary = super().api_route(path, ...)``: kept to decorate with later
                self.registrations(value, states)
                return states
            case ast.If():
                return self.branch(node, states)
            case ast.Expr(value=value) | ast.Return(value=value) if value is not None:
                self.registrations(value, states)
                return [] if isinstance(node, ast.Return) else states
            case ast.Try():
                return self.block([*node.body, *node.orelse, *node.finalbody], states)
            case ast.With() | ast.AsyncWith():
                return self.block(node.body, states)
            case ast.Raise():
                return []
            case _:
                return states

    def branch(self, node: ast.If, states: list[_State]) -> list[_State]:
        test = _test(node.test, self.name)
        if test is None:  # either may happen
            taken, other = states, states
        else:
            taken = [(*state, test) for state in states]
            other = [(*state, Require(test.test, test.text, not test.expected)) for state in states]
        after = self.block(node.body, taken) + self.block(node.orelse, other)
        if len(after) > _MAX_STATES:
            self.unreadable = True
        return list(dict.fromkeys(after))

    def registrations(self, value: ast.expr, states: list[_State]) -> None:
        """``super().add_api_route(path, ...)``: each state is a route registered."""
        for call in ast.walk(value):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in REGISTRATION_METHODS
                and isinstance(call.func.value, ast.Call)
                and isinstance(call.func.value.func, ast.Name)
                and call.func.value.func.id == "super"
            ):
                continue
            given = call.args[0] if call.args else _keyword(call, "path")
            steps = self.steps(given) if given is not None else None
            if steps is None:
                self.unreadable = True
                return
            self.found.extend(state + steps for state in states)

    def steps(self, node: ast.expr) -> tuple[Step, ...] | None:
        """The steps from the current path to the value of ``node``, if it is the path
        changed in a way that can be read."""
        match node:
            case ast.Name(id=name) if name == self.name:
                return ()
            case ast.BinOp(left=left, op=ast.Add(), right=right):
                text = _text(right)
                if text is not None:
                    inner = self.steps(left)
                    return None if inner is None else (*inner, Append(text))
                text = _text(left)
                inner = self.steps(right)
                if text is None or inner is None:
                    return None
                return (*inner, Prepend(text))
            case ast.Subscript(value=value, slice=ast.Slice(lower=lower, upper=upper, step=None)):
                inner = self.steps(value)
                (start_read, start), (stop_read, stop) = _bound(lower), _bound(upper)
                if inner is None or not (start_read and stop_read):
                    return None
                return (*inner, Cut(start, stop))
            case ast.Call(func=ast.Attribute(value=value, attr=how), args=args) if how in (
                "rstrip",
                "lstrip",
                "strip",
                "removesuffix",
                "removeprefix",
            ):
                inner = self.steps(value)
                chars = _text(args[0]) if args else None
                if inner is None or (args and chars is None) or len(args) > 1:
                    return None
                return (*inner, Strip(how, chars))
            case ast.JoinedStr(values=values):
                return self.formatted(values)
            case ast.BoolOp(op=ast.Or(), values=[value, fallback]):
                inner = self.steps(value)
                text = _text(fallback)
                return None if inner is None or text is None else (*inner, OrElse(text))
            case _:
                return None

    def formatted(self, values: list[ast.expr]) -> tuple[Step, ...] | None:
        """``f"/api{path}/"``: text around the path, once."""
        index = next(
            (
                i
                for i, part in enumerate(values)
                if isinstance(part, ast.FormattedValue) and part.format_spec is None
            ),
            None,
        )
        if index is None:
            return None
        formatted = values[index]
        inner = self.steps(formatted.value) if isinstance(formatted, ast.FormattedValue) else None
        before = [_text(part) for part in values[:index]]
        after = [_text(part) for part in values[index + 1 :]]
        if inner is None or None in before or None in after:
            return None
        steps: tuple[Step, ...] = inner
        if before:
            steps += (Prepend("".join(text for text in before if text is not None)),)
        if after:
            steps += (Append("".join(text for text in after if text is not None)),)
        return steps


def _test(node: ast.expr, name: str) -> Require | None:
    expected = True
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        expected, node = not expected, node.operand
    match node:
        case ast.Call(
            func=ast.Attribute(value=ast.Name(id=tested), attr=test), args=[argument]
        ) if tested == name and test in ("endswith", "startswith"):
            text = _text(argument)
            return None if text is None else Require(test, text, expected)
        case ast.Compare(left=ast.Name(id=tested), ops=[op], comparators=[argument]) if (
            tested == name and isinstance(op, ast.Eq | ast.NotEq)
        ):
            text = _text(argument)
            if text is None:
                return None
            return Require("==", text, expected if isinstance(op, ast.Eq) else not expected)
        case _:
            return None


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _bound(node: ast.expr | None) -> tuple[bool, int | None]:
    """Whether a slice bound can be read, and its value (None when absent)."""
    if node is None:
        return True, None
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return True, int(node.value)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int)
    ):
        return True, -int(node.operand.value)
    return False, None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)
