"""The ``unstuck`` command: one entry point, one sub-command per part.

Each part is imported only when its sub-command runs, so that ``unstuck check``
works in an environment that has none of the service's dependencies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

_COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("unstuck.service.cli", "serve", "run the service"),
    "worker": ("unstuck.service.cli", "worker", "run a Celery worker for the service"),
    "check": ("unstuck.check.cli", "main", "find code that blocks the event loop"),
    "lab": ("unstuck.lab.cli", "main", "measure the article's claims on the running service"),
}

_USAGE = (
    "usage: unstuck {"
    + ",".join(_COMMANDS)
    + "} [options]\n\n"
    + "\n".join(f"  {name:<8} {help_}" for name, (_, _, help_) in _COMMANDS.items())
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_USAGE)
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in _COMMANDS:
        print(f"unstuck: unknown command {name!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    module_name, function_name, _ = _COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(
            f"unstuck {name}: a dependency is missing ({exc.name}). "
            "Install the service extra: pip install 'unstuck[service]'",
            file=sys.stderr,
        )
        return 2
    command: Callable[..., int] = getattr(module, function_name)
    if name == "check" and argv is None:
        # the process is this one check: it ends without freeing what the check built
        return command(rest, process_ends=True)
    return command(rest)


if __name__ == "__main__":
    raise SystemExit(main())
