"""Which files to analyze, and the module name of each.

Every ``.py`` file under the given paths, except in directories that never hold the
project's own code (virtual environments, VCS and tool caches) and what the
configuration excludes. A file's module name comes from its enclosing packages
(directories with ``__init__.py``), so ``src/app/db.py`` is ``app.db``; a directory
without one inside a package is a namespace portion of it (PEP 420), so
``app/routers/items.py`` is ``app.routers.items`` when only ``app/`` has one.

Many applications have no ``__init__.py`` at all and import ``app.routers.items``
because they run from the directory above ``app/``. Such a file keeps its short name,
and ``import_aliases`` gives the longer names its directories spell, so the import
still resolves to it; a name two files could claim resolves to neither.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from unstuck.check.records import FrozenRecord

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

TEST_DIRECTORIES = frozenset({"tests", "test"})
SKIPPED_DIRECTORIES = frozenset(
    {
        ".venv",
        "node_modules",
        ".git",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".unstuck_cache",
        ".tox",
        ".nox",
    }
)


class SourceFile(FrozenRecord):
    __match_args__ = ("path", "module", "is_package", "in_tests")
    __slots__ = __match_args__

    def __init__(self, path: Path, module: str, is_package: bool, in_tests: bool = False) -> None:
        self.path: Final = path
        self.module: Final = module
        self.is_package: Final = is_package
        # under a ``tests`` or ``test`` folder of the path given (not of the folders above
        # it: a project may sit in one)
        self.in_tests: Final = in_tests


def discover(
    paths: list[Path],
    exclude: tuple[str, ...],
    root: Path | None,
    unreadable: list[tuple[Path, str]] | None = None,
) -> list[SourceFile]:
    """The files to analyze; directories that cannot be listed go to ``unreadable``."""
    found: dict[Path, bool] = {}  # -> under a tests folder

    def report(error: OSError) -> None:
        if unreadable is not None:
            unreadable.append((Path(error.filename or "."), f"cannot be read: {error.strerror}"))

    for path in paths:
        if path.is_file():
            found[path.resolve()] = False
            continue
        for directory, subdirectories, files in os.walk(path, onerror=report):
            below = os.path.relpath(directory, path).replace(os.sep, "/").split("/")
            in_tests = not TEST_DIRECTORIES.isdisjoint(below)
            subdirectories[:] = sorted(
                name
                for name in subdirectories
                if name not in SKIPPED_DIRECTORIES
                and not _excluded(Path(directory, name), exclude, root)
            )
            real = None  # the directory's real path, worked out once for its files
            for name in sorted(files):
                if name.endswith(".py"):
                    if real is None:
                        real = os.path.realpath(directory)
                    full = os.path.join(real, name)
                    if os.path.islink(full):
                        full = os.path.realpath(full)
                    found[Path(full)] = in_tests
    kept = {
        file: in_tests for file, in_tests in found.items() if not _excluded(file, exclude, root)
    }
    return _name_modules(kept)


def _excluded(path: Path, patterns: tuple[str, ...], root: Path | None) -> bool:
    if not patterns:
        return False
    try:
        relative = path.resolve().relative_to(root).as_posix() if root else path.as_posix()
    except ValueError:
        relative = path.as_posix()
    parts = relative.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
            return True
        if "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


class _Packages:
    """Which directories are packages, memoized (a class, not nested functions: a
    recursive closure is a reference cycle, left to the garbage collector). Directories
    are plain strings: ``Path`` objects would be hashed and compared thousands of times."""

    def __init__(self) -> None:
        self._is_package: dict[str, bool] = {}
        self._inside: dict[str, bool] = {}

    def package_dir(self, directory: str) -> bool:
        known = self._is_package.get(directory)
        if known is None:
            known = os.path.isfile(os.path.join(directory, "__init__.py"))
            self._is_package[directory] = known
        return known

    def inside_package(self, directory: str) -> bool:
        """The directory is a package, or a namespace portion of an enclosing one."""
        known = self._inside.get(directory)
        if known is None:
            parent = os.path.dirname(directory)
            known = self.package_dir(directory) or (
                parent != directory and self.inside_package(parent)
            )
            self._inside[directory] = known
        return known


def _name_modules(files: dict[Path, bool]) -> list[SourceFile]:
    inside_package = _Packages().inside_package
    named: list[SourceFile] = []
    taken: dict[str, int] = {}
    for file in files:
        text = str(file)
        directory, name = os.path.split(text)
        is_package = name == "__init__.py"
        parts = [] if is_package else [name[:-3] if name.endswith(".py") else file.stem]
        while inside_package(directory) and os.path.dirname(directory) != directory:
            directory, base = os.path.split(directory)
            parts.insert(0, base)
        module = ".".join(parts) or os.path.basename(os.path.dirname(text))
        # Two unrelated scripts with the same name: both analyzed, the first keeps the name.
        if module in taken:
            taken[module] += 1
            module = f"{module}#{taken[module]}"
        else:
            taken[module] = 1
        named.append(SourceFile(file, module, is_package, files[file]))
    return named


def import_aliases(
    modules: Iterable[tuple[str, str]], depth: int = 8
) -> tuple[dict[str, str], set[str]]:
    """Longer dotted names of modules, from the directories above their import root.

    ``modules`` holds (module name, file path). Returns the aliases that exactly one
    module claims, mapped to it, and the namespace names above them
    (``app``, ``app.routers`` for ``app.routers.items``).
    """
    modules = list(modules)
    claims: dict[str, set[str]] = {}
    for name, path in modules:
        short = name.partition("#")[0]
        # plain string operations: this runs for every module of large projects
        directory = os.path.abspath(path)
        if os.path.basename(directory) == "__init__.py":
            directory = os.path.dirname(directory)
        for _ in range(short.count(".") + 1):
            directory = os.path.dirname(directory)
        alias = short
        for _ in range(depth):
            parent = os.path.dirname(directory)
            base = os.path.basename(directory)
            if not base.isidentifier() or parent == directory:
                break
            alias = f"{base}.{alias}"
            claims.setdefault(alias, set()).add(name)
            directory = parent
    # Shorter names too: code run from inside a folder of the project imports its
    # packages from there (``cd backend && uvicorn server.app:app`` and
    # ``from server.store import Store`` for ``backend.server.store``). Two parts at
    # least, and never a standard library's name.
    shorter: dict[str, set[str]] = {}
    for name, _ in modules:
        parts = name.partition("#")[0].split(".")
        for start in range(1, len(parts) - 1):
            if parts[start] not in sys.stdlib_module_names:
                shorter.setdefault(".".join(parts[start:]), set()).add(name)
    aliases = {alias: next(iter(names)) for alias, names in shorter.items() if len(names) == 1}
    aliases.update((alias, next(iter(names))) for alias, names in claims.items() if len(names) == 1)
    namespaces = {
        ".".join(parts[:index])
        for parts in (alias.split(".") for alias in claims)
        for index in range(1, len(parts))
    }
    return aliases, namespaces


def is_test_module(name: str) -> bool:
    """By its dotted name from its import root (not its path: a project may sit in a
    folder called ``tests``, as the checker's own fixtures do)."""
    parts = name.partition("#")[0].split(".")
    last = parts[-1]
    return (
        last.startswith("test_")
        or last.endswith("_test")
        or last == "conftest"
        or not TEST_DIRECTORIES.isdisjoint(parts[:-1])
    )
