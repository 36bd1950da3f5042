"""A scripted day of journeys with known friction, for the board and alert tests: every figure a
panel shows can be computed by hand from `Scenario`'s lists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NAMESPACE = uuid.UUID("0b6f3f1e-56a4-4d0c-8f7e-3d2a9c1b7e55")


@dataclass
class Scenario:
    customers: int
    events: list[dict[str, Any]] = field(default_factory=list)

    def ids(self, predicate) -> list[int]:
        """Customers who get past signup (the others leave there) and match `predicate`."""
        return [i for i in range(self.customers) if predicate(i) and not self.abandons_signup(i)]

    # Who does what (the test's hand-computed expectations read these):
    @staticmethod
    def abandons_signup(i: int) -> bool:
        return i % 6 == 0

    @staticmethod
    def starts_checkout(i: int) -> bool:
        return i % 2 == 0

    @staticmethod
    def completes_checkout(i: int) -> bool:
        return i % 4 == 0

    @staticmethod
    def rage_clicks(i: int) -> bool:  # at checkout's payment step
        return i % 4 == 2

    @staticmethod
    def contacts_three_times(i: int) -> bool:
        return i % 5 == 0

    @staticmethod
    def fails_self_service(i: int) -> bool:
        return i % 7 == 0

    @staticmethod
    def activates(i: int) -> bool:
        return i % 3 == 1

    @staticmethod
    def starts_trial(i: int) -> bool:
        return i % 4 == 1

    @staticmethod
    def nps(i: int) -> int:
        return (i * 7) % 11

    @staticmethod
    def csat(i: int) -> int:
        return 1 + i % 5


def board_scenario(customers: int = 24, start: datetime = T0) -> Scenario:
    scenario = Scenario(customers)
    for i in range(customers):
        scenario.events.extend(_journey(scenario, i, start + timedelta(minutes=2 * i)))
    return scenario


def _journey(s: Scenario, i: int, t: datetime) -> list[dict[str, Any]]:
    customer, anonymous, account = f"bc-{i:03d}", f"ba-{i:03d}", f"acct-{i % 4}"
    channel = "web" if i % 2 else "mobile"
    events: list[dict[str, Any]] = []
    clock = [t]

    def add(minutes: float, touchpoint: str, ch: str = channel, known: bool = True, **fields: Any) -> None:
        clock[0] += timedelta(minutes=minutes)
        event = {"event_id": str(uuid.uuid5(NAMESPACE, f"{i}/{len(events)}")), "occurred_at": clock[0].isoformat(),
                 "anonymous_id": anonymous, "channel": ch, "touchpoint": touchpoint, "source": f"{ch}-service", **fields}  # fmt: skip
        if known:
            event |= {"customer_id": customer, "account_id": account}
        events.append(event)

    add(0, "ad.click", "ads", known=False)
    add(1, "web.landing_viewed", "web", known=False)
    add(1, "signup.started", flow="signup", step="account", known=False)
    add(0.5, "identity.identified")  # in the middle of signup: the funnel must follow the person
    add(1, "signup.step_completed", flow="signup", step="profile")
    if s.abandons_signup(i):
        return events  # gone: the signup times out
    add(0.5, "signup.step_completed", flow="signup", step="verify")
    add(1, "signup.completed", flow="signup", step="done")
    if s.starts_checkout(i):
        add(1, "checkout.started", flow="checkout", step="cart")
        add(1, "checkout.step_completed", flow="checkout", step="shipping")
        add(1, "checkout.step_completed", flow="checkout", step="payment")
        if s.rage_clicks(i):
            for _ in range(5):
                add(0.005, "ui.click", properties={"element": "pay-button"})
        if s.completes_checkout(i):
            add(1, "checkout.completed", flow="checkout", step="review")
    if s.fails_self_service(i):
        for query in ("refund", "refund policy", "money back"):
            add(0.5, "help.searched", properties={"query": query, "results": 0})
        add(0.5, "support.ticket_opened", "support")
    if s.contacts_three_times(i):
        add(2, "support.ticket_opened", "support", properties={"topic": "billing"})
        add(2, "support.chat_started", "chat", properties={"topic": "billing"})
        add(2, "support.call_received", "phone", properties={"topic": "billing"})
    if s.activates(i):
        add(2, "onboarding.started", "in_app", flow="onboarding", step="welcome")
        add(1, "onboarding.step_completed", "in_app", flow="onboarding", step="invite_team")
        add(1, "activation.reached", "in_app")
    if s.starts_trial(i):
        add(1, "trial.started", "web", flow="trial_to_paid")
    add(1, "survey.nps", "survey", score=s.nps(i))
    add(0.5, "survey.csat", "survey", score=s.csat(i))
    return events
