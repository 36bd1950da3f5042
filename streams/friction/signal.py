"""What detectors read (Observation) and write (Signal)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

SIGNAL_NAMESPACE = uuid.UUID("c3d0a6f1-7a34-4c2e-9a0b-5f8e2d1b6c77")
INFO, WARNING, CRITICAL = "info", "warning", "critical"
SEVERITIES = (INFO, WARNING, CRITICAL)


@dataclass(frozen=True, slots=True)
class Observation:
    occurred_ms: int
    event_id: str
    touchpoint: str
    channel: str
    session_id: str | None
    stage: str | None = None
    flow: str | None = None
    step: str | None = None
    score: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> tuple[int, str]:
        return (self.occurred_ms, self.event_id)


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str
    severity: str
    key: str  # what makes this signal unique (it contains an event id): the signal id derives from it
    occurred_ms: int  # the triggering event's time (or the moment a timer fell due)
    detected_ms: int  # event time at detection
    session_id: str | None
    count: int
    details: dict[str, Any]
    trigger: Observation | None = None
    flow: str | None = None
    step: str | None = None
    version: int = 1  # a later update of the same signal (a recovered abandonment) has a higher one

    @property
    def signal_id(self) -> str:
        """Independent of the journey key: the same friction detected before or after the
        customer was identified (anonymous or customer journey) is one signal."""
        return str(uuid.uuid5(SIGNAL_NAMESPACE, f"{self.kind}/{self.key}"))


def evidence(observations: list[Observation]) -> list[dict[str, Any]]:
    return [{"event_id": o.event_id, "touchpoint": o.touchpoint, "at_ms": o.occurred_ms} for o in observations]
