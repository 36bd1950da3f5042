"""The simulator's pure core: settings and a seed in, every record to publish out (in the order and
at the event time it is sent), plus the ground truth of what each customer went through.

Same settings and seed, same output (one `random.Random`, ids derived from the seed). Journeys follow
the personas (journey/cli/simulation/personas.py) through the flows of the settings; the faults come
last: some events sent late (minutes after later ones), some twice, a few malformed.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from journey.cli.simulation.personas import CHANNELS_IN, FLAKY_ELEMENTS, HELP_QUERIES, PERSONAS, Persona
from journey.config import FlowSettings, Settings, SimulationSettings

NAMESPACE = uuid.UUID("7d4c1c8e-9a51-4d1e-b1c3-52a7e0f3c9d1")
CONTACT_CHANNELS = (("support.ticket_opened", "support"), ("support.chat_started", "chat"),
                    ("support.call_received", "phone"), ("support.email_received", "email"))  # fmt: skip


@dataclass(frozen=True)
class Outgoing:
    """One record to send: at `sent_at` (event time of the simulation), `value` under `key`."""

    sent_at: datetime
    key: bytes | None
    value: bytes
    kind: str  # event, duplicate, late, invalid


@dataclass
class CustomerTruth:
    index: int
    persona: str
    customer_id: str
    reached: dict[str, list[str]] = field(default_factory=dict)  # flow -> steps reached, in order
    completed: set[str] = field(default_factory=set)  # flows completed
    contacts: int = 0
    rage_clicks: int = 0
    hit_incident: bool = False
    churned: bool = False
    nps: int | None = None


@dataclass
class Simulation:
    records: list[Outgoing]
    customers: list[CustomerTruth]
    start: datetime
    end: datetime
    incident: tuple[datetime, datetime] | None

    incident_label: str = ""  # what broke, e.g. "checkout / payment"

    def count(self, kind: str) -> int:
        return sum(r.kind == kind for r in self.records)

    def describe(self) -> list[str]:
        """What was simulated, in a line or two (for `journey simulate` and the demo)."""
        lines = [f"{len(self.customers)} customers over {(self.end - self.start) / timedelta(days=1):g} days of event "
                 f"time ({self.start:%b %d %H:%M} → {self.end:%b %d %H:%M} UTC): {len(self.records)} records, of which "
                 f"{self.count('late')} late, {self.count('duplicate')} duplicates, {self.count('invalid')} malformed"]  # fmt: skip
        if self.incident:
            t1, t2 = self.incident
            lines.append(f"incident: {self.incident_label} broken {t1:%b %d %H:%M} → {t2:%H:%M} UTC")
        return lines


class _Journey:
    """One customer's events, on a clock that only moves forward."""

    def __init__(self, rng: random.Random, run: str, index: int, at: datetime, account: str) -> None:
        self.rng, self.run, self.index, self.at, self.account = rng, run, index, at, account
        self.anonymous_id, self.customer_id = f"{run}-anon-{index:06d}", f"{run}-cust-{index:06d}"
        self.known = False
        self.events: list[dict[str, Any]] = []
        self.frictions = 0  # what went wrong so far: surveys and churn follow it

    def wait(self, minutes: float) -> None:
        self.at += timedelta(minutes=minutes * self.rng.uniform(0.6, 1.4))

    def emit(self, touchpoint: str, channel: str, **fields: Any) -> None:
        event = {"event_id": str(uuid.uuid5(NAMESPACE, f"{self.run}/{self.index}/{len(self.events)}")),
                 "occurred_at": self.at.isoformat(timespec="milliseconds"), "anonymous_id": self.anonymous_id,
                 "channel": channel, "touchpoint": touchpoint, "source": f"{channel}-service"}  # fmt: skip
        if self.known:
            event |= {"customer_id": self.customer_id, "account_id": self.account}
        self.events.append(event | {k: v for k, v in fields.items() if v is not None})


def simulate(settings: Settings, end: datetime | None = None) -> Simulation:
    """Every record of one simulation run (`settings.simulation`), ending at `end` (or the
    settings' end, or now)."""
    sim = settings.simulation
    missing = {"signup", "checkout", "onboarding"} - set(settings.friction.flows)
    if missing:
        raise ValueError(
            f"the simulator walks the flows signup, checkout and onboarding; [friction.flows] lacks {sorted(missing)}"
        )
    end = (end or sim.end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(days=sim.days)
    rng = random.Random(sim.seed)
    # Ids of this run's own (seed and end): a re-run adds new people instead of replaying old events.
    run = f"sim{sim.seed}-{end:%y%m%d%H%M}"
    incident = None
    if sim.incident.enabled:
        t1 = start + (end - start) * sim.incident.starts_at
        if sim.incident.hour_utc is not None:
            at_hour = t1.replace(hour=sim.incident.hour_utc, minute=0, second=0)
            t1 = at_hour if start <= at_hour < end else t1
        incident = (t1, min(end, t1 + timedelta(hours=sim.incident.duration_hours)))
    personas, weights = list(PERSONAS), [p.weight for p in PERSONAS]
    events: list[dict[str, Any]] = []
    truths = []
    for index in range(sim.customers):
        persona = rng.choices(personas, weights)[0]
        journey = _Journey(rng, run, index, _arrival(rng, start, end), f"sim-acct-{rng.randrange(sim.accounts):04d}")
        truth = CustomerTruth(index, persona.name, journey.customer_id)
        _live(journey, persona, truth, settings, incident)
        truths.append(truth)
        events.extend(e for e in journey.events if e["occurred_at"] < end.isoformat(timespec="milliseconds"))
    return Simulation(_with_faults(rng, events, sim), truths, start, end, incident,
                      f"{sim.incident.flow} / {sim.incident.step}" if incident else "")  # fmt: skip


def _arrival(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A first visit, more likely in the (UTC) day than at night; early enough to get somewhere."""
    span_s = (end - start).total_seconds() * 0.9
    while True:
        at = start + timedelta(seconds=rng.uniform(0, span_s))
        if rng.random() < 0.35 + 0.65 * math.sin(math.pi * ((at.hour + at.minute / 60 - 6) % 24) / 24) ** 2:
            return at


def _live(
    j: _Journey, p: Persona, truth: CustomerTruth, settings: Settings, incident: tuple[datetime, datetime] | None
) -> None:
    rng, flows = j.rng, settings.friction.flows
    j.emit("ad.click" if rng.random() < 0.5 else "content.viewed", rng.choice(CHANNELS_IN))
    j.wait(2)
    j.emit("web.landing_viewed", "web")
    j.wait(3)
    j.emit("web.pricing_viewed", "web", properties={"plan": rng.choice(["team", "business"])})
    _maybe_rage(j, p, truth)
    if p.via_sales:
        for touchpoint, minutes in (
            ("sales.demo_requested", 60),
            ("sales.demo_held", 60 * 24),
            ("sales.proposal_sent", 60 * 6),
        ):
            j.wait(minutes)
            j.emit(touchpoint, "sales")
    if rng.random() >= p.signs_up:
        return  # looked around, left
    j.wait(5)
    if not _flow(j, "signup", flows["signup"], p, truth, identify_after_first_step=True):
        return
    if p.via_sales:
        j.wait(60 * 3)
        j.emit("sales.contract_signed", "sales")
    elif "trial_to_paid" in flows and rng.random() < p.trials:  # tries before buying: converts or lets it lapse
        j.wait(3)
        j.emit(flows["trial_to_paid"].start[0], "web", flow="trial_to_paid")
        if rng.random() < p.buys:
            j.wait(60 * rng.uniform(4, 48))
            j.emit(flows["trial_to_paid"].complete[0], "billing", flow="trial_to_paid")
            truth.completed.add("trial_to_paid")
    elif rng.random() < p.buys:
        j.wait(10)
        _flow(j, "checkout", flows["checkout"], p, truth, incident=incident, settings=settings)
    if rng.random() < p.onboards:
        j.wait(60 * rng.uniform(1, 20))
        if rng.random() < p.trouble:
            _trouble(j, p, truth)
        _flow(j, "onboarding", flows["onboarding"], p, truth)
        if "onboarding" in truth.completed or rng.random() < 0.3:
            j.wait(30)
            j.emit("activation.reached", "in_app")
            for _ in range(rng.randint(1, 4)):
                j.wait(60 * rng.uniform(1, 8))
                j.emit(
                    "feature.used",
                    rng.choice(["in_app", "mobile"]),
                    properties={"feature": rng.choice(["reports", "boards", "api"])},
                )
    _survey(j, p, truth)
    if rng.random() < p.churns + 0.12 * j.frictions:
        j.wait(60 * rng.uniform(4, 30))
        j.emit("billing.cancelled", "billing", properties={"reason": "experience" if j.frictions else "price"})
        truth.churned = True


def _flow(j: _Journey, name: str, flow: FlowSettings, p: Persona, truth: CustomerTruth, *,
          identify_after_first_step: bool = False, incident: tuple[datetime, datetime] | None = None,
          settings: Settings | None = None) -> bool:  # fmt: skip
    """Through a flow's steps until the customer gives up (False) or completes it (True)."""
    steps = flow.steps or ["started"]
    reached = truth.reached.setdefault(name, [])
    for position, step in enumerate(steps):
        if position:
            if j.rng.random() >= p.step_pass:
                return False
            j.wait(1.5)
        j.emit(
            flow.start[0] if position == 0 else f"{name}.step_completed",
            "web",
            flow=name,
            step=step if flow.steps else None,
        )
        reached.append(step)
        if identify_after_first_step and position == 0:
            j.wait(0.5)
            j.known = True
            j.emit("identity.identified", "web", properties={"persona": p.name})  # as a CRM would tag them
        if (
            incident
            and settings
            and step == settings.simulation.incident.step
            and incident[0] <= j.at < incident[1]
            and j.rng.random() < settings.simulation.incident.failure_share
        ):
            _broken_step(j, name, step, truth)
            return False
    j.wait(1)
    j.emit(flow.complete[0], "web", flow=name)
    truth.completed.add(name)
    return True


def _broken_step(j: _Journey, flow: str, step: str, truth: CustomerTruth) -> None:
    """The incident: the step fails again and again, the customer hammers its button, gives up,
    and often asks support what happened."""
    truth.hit_incident = True
    j.frictions += 2
    for _ in range(j.rng.randint(3, 5)):
        j.wait(0.3)
        j.emit(f"{flow}.error", "web", flow=flow, step=step, properties={"code": "PAYMENT_GATEWAY_TIMEOUT"})
    for _ in range(j.rng.randint(4, 7)):
        j.at += timedelta(milliseconds=j.rng.randint(150, 400))
        j.emit("ui.click", "web", flow=flow, step=step, properties={"element": f"{step}-submit"})
    truth.rage_clicks += 1
    if j.rng.random() < 0.5:
        j.wait(20)
        _contact(j, truth)


def _trouble(j: _Journey, p: Persona, truth: CustomerTruth) -> None:
    """Stuck in onboarding: errors, help searches (often fruitless), support contacts."""
    j.frictions += 1
    if j.rng.random() < p.error_prone:
        for _ in range(j.rng.randint(3, 4)):
            j.wait(0.5)
            j.emit("ui.error", "in_app", properties={"screen": "import"})
    for _ in range(j.rng.randint(1, 4)):
        j.wait(1)
        j.emit(
            "help.searched", "web", properties={"query": j.rng.choice(HELP_QUERIES), "results": j.rng.choice([0, 0, 3])}
        )
    _maybe_rage(j, p, truth)
    low, high = p.contacts
    for n in range(j.rng.randint(low, high)):
        # the first right after searching in vain (same session); then hours apart, other channels
        j.wait(j.rng.uniform(2, 10) if n == 0 else 60 * j.rng.uniform(0.5, 20))
        _contact(j, truth)
    if truth.contacts >= 3:
        j.frictions += 1


def _contact(j: _Journey, truth: CustomerTruth) -> None:
    touchpoint, channel = j.rng.choice(CONTACT_CHANNELS)
    j.emit(touchpoint, channel, properties={"topic": j.rng.choice(["import", "billing", "access"])})
    truth.contacts += 1
    j.wait(30)
    j.emit("survey.csat", "survey", score=max(1, min(5, round(j.rng.gauss(4.6 - 0.7 * j.frictions, 0.8)))))


def _maybe_rage(j: _Journey, p: Persona, truth: CustomerTruth) -> None:
    if j.rng.random() >= p.rage_prone:
        return
    element = j.rng.choice(FLAKY_ELEMENTS)
    for _ in range(j.rng.randint(4, 6)):
        j.at += timedelta(milliseconds=j.rng.randint(120, 450))
        j.emit("ui.click", "web", properties={"element": element})
    truth.rage_clicks += 1
    j.frictions += 1


def _survey(j: _Journey, p: Persona, truth: CustomerTruth) -> None:
    """Answers follow the experience: every friction costs about 2.5 NPS points."""
    if not j.known or j.rng.random() < 0.35:
        return  # most never answer
    j.wait(60 * j.rng.uniform(1, 12))
    truth.nps = max(0, min(10, round(j.rng.gauss(p.nps_base - 2.5 * j.frictions, 1.2))))
    j.emit("survey.nps", "survey", score=truth.nps)
    if j.rng.random() < 0.5:
        j.wait(1)
        j.emit("survey.ces", "survey", score=max(1, min(7, round(j.rng.gauss(6 - 1.5 * j.frictions, 1)))))


# -- faults -----------------------------------------------------------------------------------------
INVALID_SHAPES = ("not json", "no ids", "unknown channel", "bad touchpoint", "score out of range")


def _with_faults(rng: random.Random, events: list[dict[str, Any]], sim: SimulationSettings) -> list[Outgoing]:
    records = []
    for event in events:
        at = datetime.fromisoformat(event["occurred_at"])
        key = (event.get("customer_id") or event["anonymous_id"]).encode()
        value = orjson.dumps(event)
        if rng.random() < sim.late_share:  # held up somewhere: sent after later events
            records.append(Outgoing(at + timedelta(minutes=rng.uniform(2, 45)), key, value, "late"))
            continue
        records.append(Outgoing(at, key, value, "event"))
        if rng.random() < sim.duplicate_share:  # a retry after a lost acknowledgement
            records.append(Outgoing(at + timedelta(seconds=rng.uniform(1, 120)), key, value, "duplicate"))
    for n in range(round(len(events) * sim.invalid_share)):
        template = rng.choice(events)
        records.append(Outgoing(datetime.fromisoformat(template["occurred_at"]), None,
                                _malformed(rng, template, n), "invalid"))  # fmt: skip
    records.sort(key=lambda r: r.sent_at)
    return records


def _malformed(rng: random.Random, template: dict[str, Any], n: int) -> bytes:
    shape = INVALID_SHAPES[n % len(INVALID_SHAPES)]
    event = dict(template, event_id=str(uuid.uuid5(NAMESPACE, f"{template['event_id']}/invalid/{n}")))
    if shape == "not json":
        return b"{'touchpoint': checkout.started" + str(rng.random()).encode()
    if shape == "no ids":
        event.pop("anonymous_id", None), event.pop("customer_id", None), event.pop("account_id", None)
    elif shape == "unknown channel":
        event["channel"] = "fax"
    elif shape == "bad touchpoint":
        event["touchpoint"] = "Checkout Started"
    else:
        event |= {"touchpoint": "survey.nps", "channel": "survey", "score": 42}
    return orjson.dumps(event)
