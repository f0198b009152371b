"""A run leaves nothing for the garbage collector: it is off while the checker runs, so
every object kept in a reference cycle would stay until the next collection, which
then scans them all (a third of a second on a 1,000-file application)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from unstuck.check import check

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def collector_off() -> Iterator[None]:
    check([FIXTURES / "project"], jobs=1)  # what the first run imports makes cycles of its own
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "folder",
    [
        # a file that needs the parser's fallbacks, and sync calls followed through
        # helpers with the values they are given
        FIXTURES / "project",
        FIXTURES / "shapes" / "server_helpers",
        FIXTURES / "shapes" / "generic_repository",
    ],
    ids=lambda folder: folder.name,
)
@pytest.mark.usefixtures("collector_off")
def test_a_run_leaves_no_reference_cycle(folder: Path) -> None:
    report = check([folder], jobs=1)
    assert report.findings
    assert gc.collect() == 0
