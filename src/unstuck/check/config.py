"""``[tool.unstuck]`` in pyproject.toml, found upward from the analyzed paths.

[tool.unstuck]
select = ["USK1"]                         # code prefixes; default: every rule
ignore = ["USK203"]
exclude = ["migrations", "scripts/*.py"]
extra-blocking = ["billing.client.charge", "legacy.Client.fetch"]   # -> USK100
extra-offloaders = ["app.concurrency.in_thread"]   # decorators that run a def in a thread
cache-dir = ".unstuck_cache"              # default; relative to this pyproject.toml
once-per-process = true                   # also report blocking at startup, import
                                          # time, in CLI commands and memoised code
"""

from __future__ import annotations

from pathlib import Path

from unstuck.check.records import FrozenRecord

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""


class Config(FrozenRecord):
    # its ``repr`` (every field) is part of the cache's key of a run
    __match_args__ = (
        "select",
        "ignore",
        "exclude",
        "extra_blocking",
        "extra_offloaders",
        "cache_dir",
        "once_per_process",
        "source",
    )
    __slots__ = __match_args__

    def __init__(
        self,
        select: tuple[str, ...] = (),
        ignore: tuple[str, ...] = (),
        exclude: tuple[str, ...] = (),
        extra_blocking: tuple[str, ...] = (),
        extra_offloaders: tuple[str, ...] = (),
        cache_dir: Path | None = None,
        once_per_process: bool = False,
        source: Path | None = None,  # the pyproject.toml it came from
    ) -> None:
        self.select: Final = select
        self.ignore: Final = ignore
        self.exclude: Final = exclude
        self.extra_blocking: Final = extra_blocking
        self.extra_offloaders: Final = extra_offloaders
        self.cache_dir: Final = cache_dir
        self.once_per_process: Final = once_per_process
        self.source: Final = source

    @property
    def root(self) -> Path | None:
        return self.source.parent if self.source is not None else None


_KEYS = (
    "select",
    "ignore",
    "exclude",
    "extra-blocking",
    "extra-offloaders",
    "cache-dir",
    "once-per-process",
)
_FLAGS = frozenset({"once-per-process"})


def find_pyproject(paths: list[Path]) -> Path | None:
    start = (paths[0] if paths else Path.cwd()).resolve()
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "[tool.unstuck" in pyproject.read_text("utf-8", "replace"):
            return pyproject
    return None


# The ``[tool.unstuck]`` table last read, with the text of the pyproject.toml it was read
# from, at the top of the cache (``marshal``: built in, nothing to import).
_REMEMBERED = "tool-unstuck.marshal"


def load_config(pyproject: Path | None, remember_in: Path | None = None) -> Config:
    """The configuration in ``pyproject``'s ``[tool.unstuck]``.

    ``remember_in``: a cache directory that keeps the table between runs. Reading TOML
    imports ``tomllib``, and with it ``typing`` and ``datetime``: a third of the
    checker's start. While the file's text is the same, the table is read back instead.
    """
    if pyproject is None:
        return Config()
    try:
        text = pyproject.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{pyproject}: cannot be read: {exc}") from exc
    section = _remembered(remember_in, text) if remember_in is not None else None
    if section is None:
        section = _section(pyproject, text)
        # a table that sends the cache elsewhere is not kept here, in the default place
        if remember_in is not None and not {"cache-dir", "cache_dir"} & section.keys():
            _remember(remember_in, text, section)
    return _config(pyproject, section)


def _section(pyproject: Path, text: str) -> dict[str, object]:
    import tomllib  # only when there is a configuration to read: it is slow to import

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: cannot be read as TOML: {exc}") from exc
    section = data.get("tool", {}).get("unstuck", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{pyproject}: [tool.unstuck] must be a table")
    return section


def _remembered(directory: Path, text: str) -> dict[str, object] | None:
    import marshal

    from unstuck.check.cache import Cache

    data = Cache(directory).read_aside(_REMEMBERED)
    if data is None:
        return None
    try:
        kept = marshal.loads(data)
    except (EOFError, ValueError, TypeError):  # another Python's, or a damaged file
        return None
    if not (isinstance(kept, tuple) and len(kept) == 2 and kept[0] == text):
        return None
    section = kept[1]
    return section if isinstance(section, dict) else None


def _remember(directory: Path, text: str, section: dict[str, object]) -> None:
    import marshal

    from unstuck.check.cache import Cache

    try:
        data = marshal.dumps((text, section))
    except ValueError:  # a TOML date or time: not kept, read again next time
        return
    Cache(directory).write_aside(_REMEMBERED, data)


def _config(pyproject: Path, section: dict[str, object]) -> Config:
    values: dict[str, tuple[str, ...]] = {}
    cache_dir: Path | None = None
    flags: dict[str, bool] = {}
    for raw_key, value in section.items():
        key = raw_key.replace("_", "-")
        if key not in _KEYS:
            raise ConfigError(
                f"{pyproject}: unknown key {raw_key!r} in [tool.unstuck]; "
                f"known keys: {', '.join(_KEYS)}"
            )
        if key == "cache-dir":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{pyproject}: [tool.unstuck] {raw_key} must be a path")
            cache_dir = pyproject.parent / value
            continue
        if key in _FLAGS:
            if not isinstance(value, bool):
                raise ConfigError(f"{pyproject}: [tool.unstuck] {raw_key} must be true or false")
            flags[key] = value
            continue
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{pyproject}: [tool.unstuck] {raw_key} must be a list of strings")
        values[key] = tuple(value)
    return Config(
        select=values.get("select", ()),
        ignore=values.get("ignore", ()),
        exclude=values.get("exclude", ()),
        extra_blocking=values.get("extra-blocking", ()),
        extra_offloaders=values.get("extra-offloaders", ()),
        cache_dir=cache_dir,
        once_per_process=flags.get("once-per-process", False),
        source=pyproject,
    )
