"""Summaries are typed records that cross process boundaries unchanged."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from unstuck.check.model import (
    UNKNOWN,
    Attribute,
    Call,
    Constant,
    Global,
    Keyword,
    ModuleSummary,
    Param,
)
from unstuck.check.summary import summarize_file

SHOP = Path(__file__).parent / "fixtures" / "project" / "shop"


def _summaries() -> list[ModuleSummary]:
    found = [summarize_file(str(path), path.stem, False) for path in sorted(SHOP.rglob("*.py"))]
    summaries = [summary for summary in found if isinstance(summary, ModuleSummary)]
    assert len(summaries) == len(found) > 5
    return summaries


def test_a_summary_survives_pickling_unchanged() -> None:
    summaries = _summaries()
    copied = pickle.loads(pickle.dumps(summaries))
    assert copied == summaries
    calls = [call for summary in copied for f in summary.functions.values() for call in f.calls]
    assert calls and all(isinstance(call, Call) for call in calls)


def test_unknown_stays_the_one_instance_after_pickling() -> None:
    assert pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
    call = Call(Global("f"), 1, 0, (UNKNOWN,), (Keyword("x", UNKNOWN),), False)
    copied = pickle.loads(pickle.dumps(call))
    assert copied == call
    assert copied.args[0] is UNKNOWN and copied.keywords[0].value is UNKNOWN


def test_records_are_frozen_and_compare_by_value() -> None:
    name = Attribute(Global("settings"), "API")
    with pytest.raises(dataclasses.FrozenInstanceError):
        name.name = "other"  # type: ignore[misc]
    assert name == Attribute(Global("settings"), "API")
    assert hash(name) == hash(Attribute(Global("settings"), "API"))
    assert Param("f", "db", None, Constant(None)) != Param("f", "db", None, Constant("x"))


def test_a_call_finds_its_arguments_by_keyword_or_position() -> None:
    call = Call(Global("shutdown"), 3, 4, (Constant(True),), (Keyword("timeout", UNKNOWN),), False)
    assert call.argument("wait", 0) == Constant(True)
    assert call.argument("timeout", 5) is UNKNOWN
    assert call.argument("missing", -1) is None
