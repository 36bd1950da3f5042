"""`journey dlq replay`: after a publisher's bad deploy is fixed, send what it got dead-lettered
back through the pipeline, optionally corrected.

The candidates are stage 1's dead letters (selected by reason and source) or the lines of a
corrected JSON Lines file. Each is decoded, passed through the fix-up expression if one is given,
and checked exactly as stage 1 will check it (the contract, and occurred_at against the replay's
publish time). A dry run stops there and says how many would now pass and why the others would
not; otherwise the passing ones are published through the SDK. A replayed event keeps its
event_id (unless the fix changes it), so replaying twice, or replaying an event that also arrived
another way, is dropped by stage 1 as a duplicate like any other.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from journey.schemas.touchpoint import InvalidTouchpoint, Touchpoint, check_event_time, validate_touchpoint
from journey.sdk_settings import ContractSettings

# What a fix-up expression may call besides `event` (a dict): plain value helpers, nothing that
# reaches files, imports or the process. It is still Python run here, by the operator.
FIX_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "dict",
        "list",
        "str",
        "int",
        "float",
        "bool",
        "len",
        "min",
        "max",
        "round",
        "abs",
        "sorted",
        "isinstance",
    )
}

Fix = Callable[[dict[str, Any]], dict[str, Any]]


class FixError(ValueError):
    """The fix-up expression does not compile, or does not give an object for some event."""


def compile_fix(expression: str) -> Fix:
    """A Python expression over `event` (the decoded original) giving the corrected event, e.g.
    `{**event, "channel": "web"}` or `event | {"occurred_at": event["occurred_at"] + "Z"}`."""
    try:
        code = compile(expression, "<--fix>", "eval")
    except SyntaxError as error:
        raise FixError(f"--fix does not compile: {error.msg} at column {error.offset}") from None

    def fix(event: dict[str, Any]) -> dict[str, Any]:
        result = eval(code, {"__builtins__": FIX_BUILTINS}, {"event": event})
        if not isinstance(result, dict):
            raise FixError(f"--fix gave {type(result).__name__}, not an object")
        return result

    return fix


@dataclass
class ReplayPlan:
    candidates: int = 0
    passing: list[Touchpoint] = field(default_factory=list)
    failing: Counter = field(default_factory=Counter)  # why: reason code (first field), or the fix's error
    examples: dict[str, str] = field(default_factory=dict)  # why -> one message, to show

    def _fail(self, why: str, message: str) -> None:
        self.failing[why] += 1
        self.examples.setdefault(why, message)


def plan_replay(
    originals: Iterable[bytes], fix: Fix | None, publish_time: datetime, contract: ContractSettings
) -> ReplayPlan:
    """Which originals, fixed, stage 1 would now accept (pure: no Kafka)."""
    plan = ReplayPlan()
    for original in originals:
        plan.candidates += 1
        try:
            document = orjson.loads(original)
        except orjson.JSONDecodeError as error:
            plan._fail("not_json", f"not JSON: {error}")
            continue
        if not isinstance(document, dict):
            plan._fail("not_an_object", "not a JSON object")
            continue
        if fix is not None:
            try:
                document = fix(document)
            except Exception as error:  # noqa: BLE001 - any failure of the operator's expression, per event
                plan._fail("fix failed", f"{type(error).__name__}: {error}")
                continue
        try:
            touchpoint = validate_touchpoint(document)
            check_event_time(touchpoint, publish_time, contract.max_future, contract.max_age)
        except InvalidTouchpoint as error:
            field_name = error.errors[0]["field"] if error.errors else ""
            plan._fail(f"{error.reason} ({field_name})" if field_name else error.reason, error.message)
            continue
        plan.passing.append(touchpoint)
    return plan


def export_line(original: bytes) -> bytes:
    """An original as one JSON Lines line: compact JSON when it parses, else its bytes with line
    breaks escaped (so one original stays one line to correct by hand)."""
    try:
        return orjson.dumps(orjson.loads(original))
    except orjson.JSONDecodeError:
        return original.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
