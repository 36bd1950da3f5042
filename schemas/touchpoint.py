"""The touchpoint event contract (schema_version 1) and its parser.

`parse_touchpoint(raw_bytes)` is the one entry point for untrusted input: it returns a
`Touchpoint` or raises `InvalidTouchpoint` whose `reason` is a stable code (for metrics and
the dead-letter topic) and whose `message` says precisely, in words, what is wrong.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from journey.schemas.stages import Stage

SCHEMA_VERSION: Final = 1

# Bounds on `properties`: a touchpoint describes one interaction; bulk payloads belong elsewhere.
MAX_PROPERTIES_BYTES = 8 * 1024
MAX_PROPERTIES_DEPTH = 4
MAX_PROPERTIES_KEYS = 64
MAX_EVENT_BYTES = 64 * 1024

TOUCHPOINT_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
IDENTIFIER_PATTERN = r"^[^\s\x00-\x1f]{1,128}$"


class Channel(enum.StrEnum):
    WEB = "web"
    MOBILE = "mobile"
    EMAIL = "email"
    ADS = "ads"
    SOCIAL = "social"
    SALES = "sales"
    IN_APP = "in_app"
    SUPPORT = "support"
    CHAT = "chat"
    PHONE = "phone"
    BILLING = "billing"
    COMMUNITY = "community"
    PARTNER = "partner"
    SURVEY = "survey"


# Survey touchpoints carry a score; its range depends on the survey kind (DOMAIN.md).
SURVEY_SCORE_RANGES: dict[str, tuple[int, int]] = {
    "survey.nps": (0, 10),
    "survey.csat": (1, 5),
    "survey.ces": (1, 7),
}


class Touchpoint(BaseModel):
    """One interaction of a person with the company, as published by a service."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    event_id: UUID
    occurred_at: AwareDatetime = Field(description="ISO-8601 with offset; normalised to UTC")
    customer_id: str | None = Field(default=None, pattern=IDENTIFIER_PATTERN)
    anonymous_id: str | None = Field(default=None, pattern=IDENTIFIER_PATTERN)
    account_id: str | None = Field(default=None, pattern=IDENTIFIER_PATTERN)
    channel: Channel
    touchpoint: str = Field(pattern=TOUCHPOINT_PATTERN, max_length=96, description='"domain.action"')
    stage: Stage | None = Field(default=None, description="derived from the stage catalog when absent")
    flow: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    step: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    score: int | None = Field(default=None, strict=True, description="survey answer; range depends on the survey kind")
    properties: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", description="publishing service")
    schema_version: Literal[1] = SCHEMA_VERSION

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _iso_text_only(cls, value: Any) -> Any:
        # pydantic would read a number as Unix time; the contract is ISO-8601 text with an offset.
        if isinstance(value, str | datetime):
            return value
        raise ValueError(f"expected ISO-8601 text with an offset, e.g. 2026-11-22T10:00:00Z, got {value!r}")

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("properties")
    @classmethod
    def _bounded_properties(cls, value: dict[str, Any]) -> dict[str, Any]:
        keys, depth = _count_keys_and_depth(value)
        if depth > MAX_PROPERTIES_DEPTH:
            raise ValueError(f"nested {depth} levels deep or more; at most {MAX_PROPERTIES_DEPTH} allowed")
        if keys > MAX_PROPERTIES_KEYS:
            raise ValueError(f"has {keys} keys or more in all; at most {MAX_PROPERTIES_KEYS} allowed")
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError as error:  # e.g. an integer beyond 64 bits, a NaN, a set
            raise ValueError(f"is not representable as JSON: {error}") from None
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(f"is {size} bytes as JSON; at most {MAX_PROPERTIES_BYTES} allowed")
        return value

    @model_validator(mode="after")
    def _identity_and_score(self) -> Touchpoint:
        if self.customer_id is None and self.anonymous_id is None:
            raise ValueError("needs customer_id or anonymous_id (at least one)")
        score_range = SURVEY_SCORE_RANGES.get(self.touchpoint)
        if score_range is not None:
            low, high = score_range
            if self.score is None:
                raise ValueError(f"{self.touchpoint} needs a score from {low} to {high}")
            if not low <= self.score <= high:
                raise ValueError(f"score {self.score} is out of range for {self.touchpoint}: {low} to {high}")
        elif self.score is not None and not self.touchpoint.startswith("survey."):
            raise ValueError(f"score is only for survey.* touchpoints, not {self.touchpoint}")
        return self

    @property
    def partition_key(self) -> str:
        """Kafka key at publish time: the anonymous id when present, so one device's events stay in order."""
        return self.anonymous_id or self.customer_id  # type: ignore[return-value]

    def to_json_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))


def _count_keys_and_depth(value: Any) -> tuple[int, int]:
    """Total number of object keys and nesting depth (a flat object is depth 1; a list adds no
    level of its own). Iterative, and it stops once past either limit: a payload nested a
    thousand levels deep is rejected, not a stack overflow."""
    keys = depth = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending and depth <= MAX_PROPERTIES_DEPTH and keys <= MAX_PROPERTIES_KEYS:
        node, level = pending.pop()
        if isinstance(node, dict):
            keys, depth = keys + len(node), max(depth, level + 1)
            pending.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            depth = max(depth, level)
            pending.extend((child, level + 1) for child in node)
    return keys, depth


class InvalidTouchpoint(ValueError):
    """Why a payload is not a valid touchpoint.

    reason: stable code (`not_utf8`, `not_json`, `not_an_object`, `too_large`, `schema`,
    `time_out_of_range`).
    message: one human-readable line naming each offending field.
    errors: per-field details, `[{"field": "occurred_at", "problem": "..."}]`.
    """

    def __init__(self, reason: str, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.errors = errors or []


_PYDANTIC_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def _explain(problem: ErrorDetails) -> dict[str, str]:
    field = ".".join(str(p) for p in problem["loc"]) or "(event)"
    kind = problem["type"]
    if kind == "timezone_aware":
        text = "timestamp has no UTC offset; send ISO-8601 with an offset, e.g. 2026-11-22T10:00:00Z"
    elif kind == "extra_forbidden":
        text = "unknown field; put service-specific data under `properties`"
    elif kind == "missing":
        text = "required field is missing"
    elif kind == "enum":
        text = f"{problem.get('input')!r} is not one of: {problem['ctx']['expected']}"
    elif kind == "string_pattern_mismatch" and problem["loc"] == ("touchpoint",):
        text = f'{problem.get("input")!r} is not a lowercase "domain.action" name like checkout.started'
    elif kind == "literal_error" and problem["loc"] == ("schema_version",):
        text = f"schema_version {problem.get('input')!r} is not supported; this pipeline reads {SCHEMA_VERSION}"
    else:
        text = _PYDANTIC_PREFIX.sub("", problem["msg"])
    return {"field": field, "problem": text}


def parse_touchpoint(raw: bytes) -> Touchpoint:
    """Parse and validate one event; raise InvalidTouchpoint with a precise reason."""
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidTouchpoint("too_large", f"event is {len(raw)} bytes; at most {MAX_EVENT_BYTES} allowed")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidTouchpoint("not_utf8", f"payload is not UTF-8: invalid byte at position {error.start}") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidTouchpoint("not_json", f"payload is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidTouchpoint("not_an_object", f"payload is a JSON {_json_type(document)}, not an object")
    return validate_touchpoint(document)


def check_event_time(touchpoint: Touchpoint, published_at: datetime, max_future: timedelta, max_age: timedelta) -> None:
    """Reject an event whose occurred_at is implausible for when it was published (the Kafka
    record's timestamp: part of the input, so replays judge alike). A clock years ahead would
    carry its journey's clock (and its source partition's progress) with it and make every later
    event late; one decades behind is a broken clock, not history."""
    if touchpoint.occurred_at > published_at + max_future:
        problem = f"{touchpoint.occurred_at.isoformat()} is after its publish time {published_at.isoformat()} " \
                  f"by more than {max_future} (contract.max_future_minutes)"  # fmt: skip
    elif touchpoint.occurred_at < published_at - max_age:
        problem = f"{touchpoint.occurred_at.isoformat()} is before its publish time {published_at.isoformat()} " \
                  f"by more than {max_age.days} days (contract.max_age_days)"  # fmt: skip
    else:
        return
    raise InvalidTouchpoint(
        "time_out_of_range", f"occurred_at: {problem}", [{"field": "occurred_at", "problem": problem}]
    )


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")


def validate_touchpoint(document: dict[str, Any]) -> Touchpoint:
    """Validate an already-decoded event (SDK callers pass dicts); raise InvalidTouchpoint."""
    try:
        return Touchpoint.model_validate(document)
    except ValidationError as error:
        errors = [_explain(problem) for problem in error.errors()]
        message = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        raise InvalidTouchpoint("schema", message, errors) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema published to services (committed as schemas/touchpoint.schema.json)."""
    schema = Touchpoint.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://journey-telemetry.dev/schemas/touchpoint/v1.json"
    schema["description"] = (
        "A customer touchpoint event (schema_version 1). At least one of customer_id or anonymous_id; "
        f"survey scores: {', '.join(f'{k} {lo}-{hi}' for k, (lo, hi) in SURVEY_SCORE_RANGES.items())}; "
        f"properties at most {MAX_PROPERTIES_KEYS} keys, {MAX_PROPERTIES_DEPTH} levels, {MAX_PROPERTIES_BYTES} bytes."
    )
    schema["anyOf"] = [{"required": ["customer_id"]}, {"required": ["anonymous_id"]}]
    return schema
