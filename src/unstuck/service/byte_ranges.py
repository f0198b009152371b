"""``Range: bytes=…`` requests for stored files, as RFC 9110 (section 14) has them.

Players and browsers ask for video in pieces: the start, then wherever the
user seeks. One range is served (206, ``Content-Range``); a header this
service does not serve (another unit, several ranges, a malformed one) is
ignored, and the whole file is sent (200), as the RFC allows. A range that
starts past the end is a 416 with ``Content-Range: bytes */size``.

`parse` reads the header; `RangeRequest.resolve` places it on a file of a known
size. ``If-Range`` is honoured with the strong entity tag the service sends
(`if_range_allows`): any other validator means "send the whole file".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One range: "first-last", "first-" or "-suffix"; digits only, no sign, no spaces inside.
_ONE_RANGE = re.compile(r"(\d*)-(\d*)")
# Longer numbers than any object's size: refused before int() does any work on them.
_MAX_DIGITS = 19


@dataclass(frozen=True)
class ByteSpan:
    """Bytes ``first`` to ``last`` inclusive of an object of ``size`` bytes."""

    first: int
    last: int
    size: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.size}"


@dataclass(frozen=True)
class RangeRequest:
    """One requested range: ``first``-``last`` (``last`` may be open), or the final
    ``suffix`` bytes."""

    first: int | None
    last: int | None
    suffix: int | None = None

    def resolve(self, size: int) -> ByteSpan | None:
        """The bytes to send from an object of `size` bytes; ``None`` when unsatisfiable."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                return None
            return ByteSpan(max(size - self.suffix, 0), size - 1, size)
        assert self.first is not None
        if self.first >= size:
            return None
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return ByteSpan(self.first, last, size)

    def header(self) -> str:
        """The range as a ``Range`` header value (what an S3 GET takes)."""
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"


def parse(header: str | None) -> RangeRequest | None:
    """The single byte range `header` asks for; ``None`` means "send the whole file"."""
    if header is None:
        return None
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    if "," in ranges:
        # Several ranges (a multipart/byteranges answer): the whole file is a valid answer.
        return None
    match = _ONE_RANGE.fullmatch(ranges.strip())
    if match is None:
        return None
    first, last = match.groups()
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        return None
    if not first:
        return RangeRequest(None, None, suffix=int(last)) if last else None
    if last and int(last) < int(first):
        return None
    return RangeRequest(int(first), int(last) if last else None)


def if_range_allows(if_range: str | None, etag: str | None) -> bool:
    """Whether a range may be served under this ``If-Range`` (strong comparison)."""
    if if_range is None:
        return True
    value = if_range.strip()
    # A date, or a weak tag, never matches: the whole file is the safe answer.
    return etag is not None and value.startswith('"') and value == etag
