"""Recipients CSV parsing, the do-not-fax list, the state table and the send budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfax import ValidationError
from ringfax.outbox import RecipientsRefused, check_recipients, parse_recipients, read_number_list
from ringfax.outbox._pacing import Budget, learn, plan_send
from ringfax.outbox._states import (
    FINAL_STATES,
    TRANSITIONS,
    BadTransition,
    Event,
    State,
    transition,
)


@pytest.mark.parametrize("header", ["number", "Phone", "FAX", " to "])
def test_number_column_names(header: str) -> None:
    parsed = parse_recipients(f"name,{header}\nJane,+16505551000\n".encode())
    assert [(r.line, r.number, r.name) for r in parsed.rows] == [(2, "+16505551000", "Jane")]


def test_rows_keep_extra_fields_and_skip_blank_lines() -> None:
    parsed = parse_recipients(b"\xef\xbb\xbfFax,Name,City\n+16505551000,Jane,Oslo\n\n,,\n")
    assert parsed.rows[0].fields == (("city", "Oslo"),)
    assert parsed.bad == ()
    assert len(parsed.sha256) == 64


def test_every_bad_row_named_with_its_line() -> None:
    data = b"number\n+16505551000\n+1650555\n\n+16505551000\nnot a number\n,x\n"
    parsed = parse_recipients(data)
    assert [b.line for b in parsed.bad] == [3, 5, 6, 7]
    assert "+1650555" in parsed.bad[0].reason
    assert "not a number" in parsed.bad[2].reason
    assert parsed.bad[3].reason == "the number is empty"
    assert "duplicate of line 2" in parsed.bad[1].reason
    with pytest.raises(RecipientsRefused) as caught:
        check_recipients(data)
    assert "line 3" in str(caught.value) and "line 7" in str(caught.value)
    assert len(caught.value.bad) == 4


def test_national_numbers_need_the_country() -> None:
    assert parse_recipients(b"to\n(650) 555-1000\n").bad
    parsed = parse_recipients(b"to\n(650) 555-1000\n", default_country="US")
    assert parsed.rows[0].number == "+16505551000"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"name,city\nJane,Oslo\n", "no number column"),
        (b"number\n\xff\n", "not UTF-8 at byte offset 7"),
        (b"number\n", "no recipients"),
    ],
)
def test_unusable_files_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_recipients(data)


def test_do_not_fax_list(tmp_path: Path) -> None:
    plain = tmp_path / "dnf.txt"
    plain.write_text("# opted out\n+16505551000\n\n+1 650 555 1001  # by phone\n")
    assert read_number_list(plain) == {"+16505551000", "+16505551001"}
    table = tmp_path / "dnf.csv"
    table.write_text("fax,name\n+16505551002,x\n")
    assert read_number_list(table) == {"+16505551002"}
    plain.write_text("+16505551000\n12\n")
    with pytest.raises(RecipientsRefused, match="line 2"):
        read_number_list(plain)


def test_state_table() -> None:
    for (state, _event), target in TRANSITIONS.items():
        assert state not in FINAL_STATES or (state, target) == (State.SENT, State.DELIVERED)
    assert transition("pending", Event.CLAIM) is State.SUBMITTING
    assert transition(State.SUBMITTING, Event.FOUND) is State.SUBMITTED
    with pytest.raises(BadTransition, match="from pending on accepted"):
        transition(State.PENDING, Event.ACCEPTED)
    with pytest.raises(BadTransition):
        transition(State.FAILED, Event.CLAIM)
    with pytest.raises(BadTransition):  # a submitting row is never claimed again unreconciled
        transition(State.SUBMITTING, Event.CLAIM)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 12),
    window=st.integers(1, 60),
    gaps=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=60),
)
def test_reserved_sends_never_exceed_the_window(limit: int, window: int, gaps: list[float]) -> None:
    budget = Budget(limit=limit, window=float(window))
    now, times = 0.0, []
    for gap in gaps:
        now += gap
        at, budget = plan_send(budget, now, 0.5)
        assert at >= now
        times.append(at)
        now = max(now, at)
    for t in times:  # any window (t - window - margin, t] holds at most `limit` sends
        assert sum(1 for s in times if t - window - 0.5 + 1e-6 < s <= t) <= limit


def test_full_budget_waits_for_the_oldest_send() -> None:
    budget = Budget(limit=2, window=10.0)
    at1, budget = plan_send(budget, 0.0, 1.0)
    at2, budget = plan_send(budget, 0.0, 1.0)
    at3, budget = plan_send(budget, 0.0, 1.0)
    assert (at1, at2, at3) == (0.0, 0.0, 11.0)
    assert learn(budget, 20, 1.0).limit == 20
    assert learn(budget, None, 1.0) == budget
