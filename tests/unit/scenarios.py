"""Seeded journeys for the batch-independence properties: many customers over days, as a
catch-up or a backfill hands them to the worker.

Each person browses anonymously (ads, pricing, help searches, rage clicks), may start signup
while anonymous and identify after a gap from seconds to hours (signup completed or a plain
identify, carrying both ids), then lives on as a customer: web events that still carry the
anonymous id (keyed by it) and backend events carrying only the customer id (billing, support,
surveys: keyed by the customer, so usually another source partition). Some never identify, some
abandon. Duplicates are re-sent later; arrival order is event time plus a jitter within grace.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from journey.schemas.touchpoint import Touchpoint

NAMESPACE = uuid.UUID("6c2b51f4-1f5e-4d87-9f0e-7d8a39b2c4aa")
T0 = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)


class _Person:
    def __init__(self, rng: random.Random, n: int, events: list[Touchpoint]) -> None:
        self.rng, self.n, self.events = rng, n, events
        self.anonymous, self.customer = f"anon-{n}", f"cust-{n}"
        self.count = 0

    def emit(
        self, at: datetime, name: str, *, known: bool, anonymous: bool = True, channel: str = "web", **extra: object
    ) -> None:
        self.count += 1
        self.events.append(Touchpoint(
            event_id=uuid.uuid5(NAMESPACE, f"{self.n}/{self.count}"), occurred_at=at,
            anonymous_id=self.anonymous if anonymous else None, customer_id=self.customer if known else None,
            channel=channel, touchpoint=name, source="scenario", **extra,
        ))  # fmt: skip


def journeys(seed: int, people: int, days: float) -> list[Touchpoint]:
    """Every event of `people` journeys starting within `days`, in event-time order."""
    rng = random.Random(seed)
    events: list[Touchpoint] = []
    for n in range(people):
        _journey(_Person(rng, n, events), T0 + timedelta(hours=rng.uniform(0, 24 * days)))
    return sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))


def _journey(p: _Person, t: datetime) -> None:
    rng = p.rng
    step = lambda lo, hi: timedelta(seconds=rng.uniform(lo, hi))  # noqa: E731
    p.emit(t, "ad.click", known=False, channel="ads")
    for name in rng.sample(["web.landing_viewed", "web.pricing_viewed", "help.searched", "help.article_viewed"], 2):
        t += step(5, 300)
        p.emit(t, name, known=False)
    if rng.random() < 0.15:  # rage clicks on the pricing page
        for _ in range(4):
            t += step(0.1, 0.4)
            p.emit(t, "ui.click", known=False, properties={"element": "plan-toggle"})
    if rng.random() < 0.2:
        return  # never identified
    signup = rng.random() < 0.8
    if signup:
        t += step(10, 600)
        p.emit(t, "signup.started", known=False, flow="signup", step="account")
    # Identify after seconds, minutes or hours: within the session, after it ended, or much later.
    t += step(*rng.choice([(1, 60), (60, 1500), (1500, 4 * 3600), (4 * 3600, 30 * 3600)]))
    if signup and rng.random() < 0.85:
        p.emit(t, "signup.completed", known=True, flow="signup", step="done")
    else:
        p.emit(t, "identity.identified", known=True)
    if rng.random() < 0.3:  # a backend event right at the link (another source partition)
        p.emit(t + step(0, 120), "billing.trial_started", known=True, anonymous=False, channel="billing")
    for _day in range(rng.randint(0, 5)):  # a customer's later days: often past the identity lookback (7 days)
        t += step(3600, 3 * 86400)
        _customer_day(p, t)


def _customer_day(p: _Person, t: datetime) -> None:
    rng = p.rng
    step = lambda lo, hi: timedelta(seconds=rng.uniform(lo, hi))  # noqa: E731
    kind = rng.choice(["onboarding", "checkout", "support", "survey", "usage"])
    if kind == "onboarding":
        p.emit(t, "onboarding.started", known=True, flow="onboarding", step="welcome")
        if rng.random() < 0.6:
            p.emit(t + step(60, 3 * 86400), "activation.reached", known=True)
    elif kind == "checkout":
        p.emit(t, "checkout.started", known=True, flow="checkout", step="cart")
        p.emit(t + step(20, 120), "checkout.step_viewed", known=True, flow="checkout", step="payment")
        if rng.random() < 0.3:
            for i in range(3):
                p.emit(
                    t + step(130 + 20 * i, 140 + 20 * i), "checkout.error", known=True, flow="checkout", step="payment"
                )
        if rng.random() < 0.6:
            p.emit(t + step(200, 5000), "checkout.completed", known=True, flow="checkout", step="review")
    elif kind == "support":
        for i in range(rng.randint(1, 4)):
            channel, name = rng.choice([("support", "support.ticket_opened"), ("chat", "support.chat_started"),
                                        ("phone", "support.call_received")])  # fmt: skip
            p.emit(t + timedelta(hours=10 * i), name, known=True, anonymous=False, channel=channel,
                   properties={"topic": rng.choice(["billing", "login"])})  # fmt: skip
    elif kind == "survey":
        p.emit(t, "survey.nps", known=True, anonymous=False, channel="survey", score=rng.randint(0, 10))
    else:
        for _ in range(rng.randint(1, 5)):
            t += step(10, 900)
            p.emit(t, "feature.used", known=True, anonymous=rng.random() < 0.5)


def arrival(events: list[Touchpoint], seed: int, grace_ms: int, duplicates: float = 0.02) -> list[Touchpoint]:
    """The order records reach the topic: event time plus a jitter below grace (each event
    arrives at most that much after events newer than it), and some re-sent later."""
    rng = random.Random(seed)
    keyed = [(e.occurred_at.timestamp() * 1000 + rng.uniform(0, grace_ms * 0.95), i, e) for i, e in enumerate(events)]
    for i, e in enumerate(events):
        if rng.random() < duplicates:
            keyed.append((e.occurred_at.timestamp() * 1000 + rng.uniform(0, 3_600_000), len(events) + i, e))
    return [e for _, _, e in sorted(keyed, key=lambda k: (k[0], k[1]))]
