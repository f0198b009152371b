"""The pytest plugin, run in an inner pytest session (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import asyncio
import time

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_blocks():
    await asyncio.sleep(0.01)
    time.sleep(0.3)  # the blocking line
    await asyncio.sleep(0.01)


async def test_blocks_at_the_end():
    time.sleep(0.3)


async def test_awaits():
    await asyncio.sleep(0.3)
    await asyncio.to_thread(time.sleep, 0.3)


@pytest.mark.unstuck(max_block_ms=1000)
async def test_allowed_by_marker():
    time.sleep(0.3)


def test_sync_is_ignored():
    time.sleep(0.3)
"""


def _line_of(source: str, text: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def test_inert_unless_asked(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "anyio")
    result.assert_outcomes(passed=5)


def test_option_fails_blocking_tests_with_the_stack(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "anyio", "--unstuck-max-block-ms=100")
    result.assert_outcomes(passed=3, failed=2)
    output = result.stdout.str()
    source = (suite.path / "test_suite.py").read_text()
    line = _line_of(source, "# the blocking line")
    assert f"test_suite.py:{line} in test_blocks\n" in output
    end_line = _line_of(source, "async def test_blocks_at_the_end") + 1
    assert f"test_suite.py:{end_line} in test_blocks_at_the_end" in output
    assert "run_watched" not in output  # the plugin's own frame is left out
    assert "longer than 100 ms" in output
    result.stdout.fnmatch_lines(
        ["*FAILED test_suite.py::test_blocks*", "*FAILED*test_blocks_at_the_end*"]
    )


def test_ini_option(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nunstuck_max_block_ms = 100\n")
    result = suite.runpytest_subprocess("-p", "anyio")
    result.assert_outcomes(passed=3, failed=2)


def test_marker_overrides_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        @pytest.mark.unstuck(max_block_ms=50)
        async def test_strict():
            time.sleep(0.2)
        """
    )
    result = pytester.runpytest_subprocess("-p", "anyio")
    result.assert_outcomes(failed=1)
    assert "longer than 50 ms" in result.stdout.str()


def test_bad_limit_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nunstuck_max_block_ms = soon\n")
    result = suite.runpytest_subprocess("-p", "anyio")
    assert (
        "unstuck_max_block_ms='soon' is not a number" in result.stdout.str() + result.stderr.str()
    )
    assert result.ret != 0
