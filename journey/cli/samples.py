"""A scripted multi-channel journey: anonymous ad click → pricing → signup → identify →
onboarding → support. Deterministic (ids derive from a seed), used by the tests (the demo
simulates many people: journey/cli/simulation/)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

SAMPLE_NAMESPACE = uuid.UUID("6f1c1a52-3c55-4c61-9f4e-3b8c1f0d2a10")

# (minutes after start, channel, touchpoint, extra fields); "anon" steps carry only the anonymous id.
_SCRIPT: list[tuple[float, str, str, dict[str, Any], bool]] = [
    (0, "ads", "ad.click", {"properties": {"campaign": "winter-launch"}}, True),
    (2, "web", "web.landing_viewed", {}, True),
    (5, "web", "web.pricing_viewed", {"properties": {"plan": "team"}}, True),
    (9, "web", "signup.started", {"flow": "signup", "step": "account"}, True),
    (11, "web", "signup.completed", {"flow": "signup", "step": "done"}, False),
    (11.1, "web", "identity.identified", {}, False),
    (60 * 24, "in_app", "onboarding.started", {"flow": "onboarding", "step": "welcome"}, False),
    (60 * 24 + 4, "in_app", "onboarding.step_completed", {"flow": "onboarding", "step": "invite_team"}, False),
    (60 * 24 + 6, "in_app", "help.searched", {"properties": {"query": "import csv", "results": 0}}, False),
    (60 * 24 + 9, "support", "support.ticket_opened", {"properties": {"topic": "import"}}, False),
    (60 * 24 + 25, "survey", "survey.csat", {"score": 2}, False),
]


def sample_journey(seed: int = 0, start: datetime | None = None) -> list[dict[str, Any]]:
    """One person's journey as JSON-ready event dicts, in event-time order."""
    start = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    anonymous_id = f"anon-{seed:06d}"
    customer_id = f"cust-{seed:06d}"
    events = []
    for index, (minutes, channel, touchpoint, extra, anonymous_only) in enumerate(_SCRIPT):
        event: dict[str, Any] = {
            "event_id": str(uuid.uuid5(SAMPLE_NAMESPACE, f"{seed}/{index}")),
            "occurred_at": (start + timedelta(minutes=minutes)).isoformat(),
            "anonymous_id": anonymous_id,
            "channel": channel,
            "touchpoint": touchpoint,
            "source": f"{channel}-service",
            "schema_version": 1,
            **extra,
        }
        if not anonymous_only:
            event["customer_id"] = customer_id
            event["account_id"] = f"acct-{seed // 10:05d}"
        events.append(event)
    return events
