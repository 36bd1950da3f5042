"""What `journey dlq replay` would send: each dead-lettered original, after the operator's fix-up,
checked as stage 1 checks it (pure: no Kafka)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from journey.cli.dlq_replay import FixError, compile_fix, export_line, plan_replay
from journey.sdk_settings import ContractSettings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def original(**changes: object) -> bytes:
    event = {"event_id": str(uuid.uuid4()), "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
             "customer_id": "cust-1", "channel": "fax", "touchpoint": "billing.invoice_sent", "source": "billing"}  # fmt: skip
    return orjson.dumps(event | changes)


def test_a_fix_lets_through_what_it_corrects_and_counts_the_rest_by_reason() -> None:
    originals = [original() for _ in range(3)] + [original(touchpoint="Invoice Sent"), b"{not json", b"[1]"]
    plan = plan_replay(originals, compile_fix('{**event, "channel": "email"}'), NOW, ContractSettings())
    assert plan.candidates == 6 and len(plan.passing) == 3
    assert {t.channel for t in plan.passing} == {"email"}
    assert plan.failing == {"schema (touchpoint)": 1, "not_json": 1, "not_an_object": 1}


def test_without_a_fix_nothing_changed_passes() -> None:
    plan = plan_replay([original(), original()], None, NOW, ContractSettings())
    assert not plan.passing and plan.failing == {"schema (channel)": 2}
    assert "fax" in plan.examples["schema (channel)"]


def test_the_time_check_uses_the_replay_time() -> None:
    stale = original(channel="web", occurred_at=(NOW - timedelta(days=500)).isoformat())
    plan = plan_replay([stale], None, NOW, ContractSettings())
    assert plan.failing == {"time_out_of_range (occurred_at)": 1}


def test_a_fix_that_fails_on_some_events_counts_them_and_goes_on() -> None:
    plan = plan_replay([original(), original(extra={"x": 1})], compile_fix('event | {"channel": event["extra"] and "web"}'),
                       NOW, ContractSettings())  # fmt: skip
    assert plan.failing["fix failed"] == 1
    assert plan.failing["schema (extra)"] == 1  # the fix kept the unknown field


@pytest.mark.parametrize(("expression", "words"), [("{**event,", "does not compile"), ("[event]", "not an object")])
def test_a_fix_that_is_not_an_expression_of_an_object_is_refused(expression: str, words: str) -> None:
    with pytest.raises(FixError, match=words):
        compile_fix(expression)({"a": 1})


def test_an_expression_cannot_reach_the_process() -> None:
    with pytest.raises(NameError):
        compile_fix('{**event, "x": open("/etc/passwd").read()}')({})


def test_exported_originals_stay_one_per_line() -> None:
    assert export_line(b'{\n  "a": 1\n}') == b'{"a":1}'
    assert export_line(b"broken\nline") == b"broken\\nline"
