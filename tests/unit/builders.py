"""Small builders for touchpoints in pure-logic tests (plain datetimes, no Kafka)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from journey.config import SessionSettings, Settings
from journey.schemas.touchpoint import Touchpoint
from journey.streams.journey import JourneyRules

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NAMESPACE = uuid.UUID("2b0a8f0e-45a7-4a1e-8a34-2a3c64b7e6f1")


def touchpoint(
    minutes: float,
    name: str = "feature.used",
    *,
    n: int | str | None = None,
    customer: str | None = "cust-1",
    anonymous: str | None = None,
    channel: str = "web",
    **extra: object,
) -> Touchpoint:
    event_key = n if n is not None else f"{name}@{minutes}"
    return Touchpoint(
        event_id=uuid.uuid5(NAMESPACE, str(event_key)),
        occurred_at=T0 + timedelta(minutes=minutes),
        customer_id=customer,
        anonymous_id=anonymous,
        channel=channel,
        touchpoint=name,
        source="test",
        **extra,
    )


def rules(**session_overrides: float) -> JourneyRules:
    return JourneyRules.from_settings(Settings(sessions=SessionSettings(**session_overrides)))
