"""The checker's on-disk cache: work already done on the same files by the same checker.

Two entries per scope (the analyzed paths, the working directory and the
configuration): the summaries of the files, each under the hash of its content, and
the last report, under the hash of every file's content. A run on an unchanged tree
reads the report back; a run after an edit summarizes only the files that changed.

Everything sits under ``<directory>/<checker version>/``, the version being a hash of
the checker's own source and of the Python that runs it, so an upgraded (or edited)
checker never reads what an older one wrote; older versions' directories are removed
when a new one is written. Entries are written to a temporary file and renamed into
place, so concurrent runs only ever read whole entries (the last writer wins). An
entry that cannot be read is a miss, and a cache that cannot be written is skipped:
the cache can make a run faster, never wrong and never fail.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

try:  # the C module itself: ``hashlib`` loads OpenSSL first, a third of the checker's start
    from _blake2 import blake2b
except ImportError:  # an interpreter built without it
    from hashlib import blake2b

DIRECTORY_NAME = ".unstuck_cache"
_VERSION_LENGTH = 32


@cache
def checker_version() -> str:
    """A hash of the source of ``unstuck.check`` and of the running Python."""
    package = Path(__file__).parent
    digest = blake2b(digest_size=_VERSION_LENGTH // 2)
    digest.update(sys.implementation.cache_tag.encode())
    digest.update(sys.version.encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def content_hash(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


def scope_hash(*parts: str) -> str:
    digest = blake2b(digest_size=12)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


class Cache:
    def __init__(self, directory: Path, version: str | None = None) -> None:
        self.directory = directory
        self._version = version
        self._pruned = False

    @property
    def version(self) -> str:
        # on first use: hashing the checker's source takes milliseconds, lost on a run
        # that never reads or writes an entry (one with nothing to analyze)
        if self._version is None:
            self._version = checker_version()
        return self._version

    @property
    def _entries(self) -> Path:
        return self.directory / self.version

    def load(self, name: str) -> object | None:
        try:
            handle = open(self._entries / name, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return None
        import pickle  # here: a run without a cache entry never pays for it

        with handle:
            try:
                value: object = pickle.load(handle)
            except Exception:  # a truncated or foreign file is a miss, whatever it raises
                return None
        return value

    def store(self, name: str, value: object) -> None:
        import pickle
        import threading

        # unique per process, thread and write; renamed into place whole
        unique = f"{os.getpid()}.{threading.get_ident()}.{os.urandom(4).hex()}"
        temporary = self._entries / f".{name}.{unique}"
        try:
            self._prepare()
            with open(temporary, "xb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self._entries / name)
        except Exception:  # a read-only or full disk only costs the next run its head start
            import contextlib  # here: a run that stores nothing never needs it

            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    def read_aside(self, name: str) -> bytes | None:
        """A file kept at the top of the cache, outside any checker version's entries."""
        try:
            return (self.directory / name).read_bytes()
        except OSError:
            return None

    def write_aside(self, name: str, data: bytes) -> None:
        """Keep ``data`` as ``read_aside(name)`` reads it: written whole, then renamed."""
        temporary = self.directory / f".{name}.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            self._prepare()
            with open(temporary, "xb") as handle:
                handle.write(data)
            os.replace(temporary, self.directory / name)
        except OSError:  # a read-only or full disk only costs the next run its head start
            import contextlib  # here: a run that stores nothing never needs it

            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    def _prepare(self) -> None:
        fresh = not self.directory.exists()
        self._entries.mkdir(parents=True, exist_ok=True)
        if fresh:
            # like other tools' caches: never committed by accident
            (self.directory / ".gitignore").write_text("# created by unstuck check\n*\n")
        if not self._pruned:
            self._pruned = True
            for entry in self.directory.iterdir():
                if (
                    entry.is_dir()
                    and entry.name != self.version
                    and len(entry.name) == _VERSION_LENGTH
                    and all(char in "0123456789abcdef" for char in entry.name)
                ):
                    import shutil

                    shutil.rmtree(entry, ignore_errors=True)
