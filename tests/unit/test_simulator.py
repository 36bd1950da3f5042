"""The simulator's pure core: reproducible, shaped like its personas say, the incident visible in
what it sends, and its faults (late, duplicate, malformed) as advertised."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime

import orjson
import pytest

from journey.cli.simulation.generate import Simulation, simulate
from journey.cli.simulation.personas import PERSONAS
from journey.config import IncidentSettings, Settings, SimulationSettings
from journey.schemas.touchpoint import InvalidTouchpoint, parse_touchpoint

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def run(customers: int = 2000, seed: int = 7, **changes) -> Simulation:
    sim = SimulationSettings(customers=customers, seed=seed, end=END, **changes)
    return simulate(Settings(simulation=sim))


@pytest.fixture(scope="module")
def big() -> Simulation:
    return run()


def events(simulation: Simulation) -> list[dict]:
    return [orjson.loads(r.value) for r in simulation.records if r.kind == "event" or r.kind == "late"]


def test_same_seed_same_records_other_seed_other_records() -> None:
    first, again, other = run(200), run(200), run(200, seed=8)
    assert [(r.sent_at, r.key, r.value, r.kind) for r in first.records] == [
        (r.sent_at, r.key, r.value, r.kind) for r in again.records
    ]
    assert [r.value for r in first.records] != [r.value for r in other.records]


def test_every_event_is_valid_and_inside_the_span_but_the_malformed_ones(big: Simulation) -> None:
    for record in big.records:
        if record.kind == "invalid":
            with pytest.raises(InvalidTouchpoint):
                parse_touchpoint(record.value)
        else:
            event = parse_touchpoint(record.value)
            assert big.start <= event.occurred_at < big.end
    assert [r.sent_at for r in big.records] == sorted(r.sent_at for r in big.records)


def test_faults_come_in_the_configured_shares(big: Simulation) -> None:
    kinds = Counter(r.kind for r in big.records)
    sent_events = kinds["event"] + kinds["late"]
    assert kinds["late"] / sent_events == pytest.approx(0.02, abs=0.005)
    assert kinds["duplicate"] / sent_events == pytest.approx(0.01, abs=0.004)
    assert kinds["invalid"] == round(sent_events * 0.005)
    firsts = {r.value for r in big.records if r.kind == "event"}
    assert all(r.value in firsts for r in big.records if r.kind == "duplicate")  # the same event again
    # A late event is sent after events that happened later than it.
    for index, record in enumerate(big.records):
        if record.kind == "late":
            occurred = parse_touchpoint(record.value).occurred_at
            assert any(parse_touchpoint(r.value).occurred_at > occurred for r in big.records[max(0, index - 50):index]
                       if r.kind == "event")  # fmt: skip
            break


def test_personas_come_in_their_weights(big: Simulation) -> None:
    counts = Counter(c.persona for c in big.customers)
    for persona in PERSONAS:
        assert counts[persona.name] / len(big.customers) == pytest.approx(persona.weight, abs=0.03), persona.name


def test_signup_drop_off_per_step_follows_the_personas(big: Simulation) -> None:
    """Of the journeys at a signup step, the share reaching the next is the persona-weighted pass
    rate (personas reaching signup weighted by how many start it)."""
    by_customer: dict[str, set[str]] = defaultdict(set)
    for event in events(big):
        if event.get("flow") == "signup" and event.get("step"):
            by_customer[event["anonymous_id"]].add(event["step"])
    steps = Settings().friction.flows["signup"].steps
    starters = sum(p.weight * p.signs_up for p in PERSONAS)
    expected_pass = sum(p.weight * p.signs_up * p.step_pass for p in PERSONAS) / starters
    at = [sum(step in reached for reached in by_customer.values()) for step in steps]
    for before, after in itertools.pairwise(at):
        assert after / before == pytest.approx(expected_pass, abs=0.04)


def test_strugglers_contact_support_most_and_repeat_contacts_are_a_minority(big: Simulation) -> None:
    by_persona: dict[str, list[int]] = defaultdict(list)
    for customer in big.customers:
        by_persona[customer.persona].append(customer.contacts)
    mean = {name: sum(c) / len(c) for name, c in by_persona.items()}
    assert max(mean, key=mean.get) == "struggler"
    repeaters = sum(c.contacts >= 3 for c in big.customers) / len(big.customers)
    assert 0.02 < repeaters < 0.15
    contacts_sent = sum(e["touchpoint"].startswith("support.") for e in events(big))
    assert contacts_sent <= sum(c.contacts for c in big.customers)  # contacts after the span's end are cut


def test_detractors_are_the_ones_who_met_friction(big: Simulation) -> None:
    answered = [c for c in big.customers if c.nps is not None]
    smooth = [c.nps for c in answered if c.contacts == 0 and c.rage_clicks == 0 and not c.hit_incident]
    rough = [c.nps for c in answered if c.hit_incident or c.contacts >= 3]
    assert sum(smooth) / len(smooth) > sum(rough) / len(rough) + 2


def test_the_incident_breaks_its_step_only_while_it_lasts(big: Simulation) -> None:
    """Of the journeys at checkout's payment step, nearly all complete outside the incident,
    few inside it; errors and rage clicks on the step's button come only inside it."""
    assert big.incident is not None
    t1, t2 = big.incident
    at_payment: dict[str, datetime] = {}
    completed: set[str] = set()
    broken_clicks = []
    for event in events(big):
        occurred = datetime.fromisoformat(event["occurred_at"])
        if (
            event.get("flow") == "checkout"
            and event.get("step") == "payment"
            and event["touchpoint"].endswith("step_completed")
        ):
            at_payment[event["anonymous_id"]] = occurred
        if event["touchpoint"] == "checkout.completed":
            completed.add(event["anonymous_id"])
        if event["touchpoint"] in ("checkout.error", "ui.click") and event.get("step") == "payment":
            broken_clicks.append(occurred)
    inside = [c for c, at in at_payment.items() if t1 <= at < t2]
    outside = [c for c, at in at_payment.items() if not t1 <= at < t2]
    completion_inside = sum(c in completed for c in inside) / len(inside)
    completion_outside = sum(c in completed for c in outside) / len(outside)
    assert len(inside) >= 10
    assert completion_outside > 0.85 and completion_inside < 0.45
    assert broken_clicks and all(t1 <= at < t2 + (t2 - t1) for at in broken_clicks)


def test_without_the_incident_nothing_breaks() -> None:
    calm = run(600, incident=IncidentSettings(enabled=False))
    assert calm.incident is None
    assert not any(c.hit_incident for c in calm.customers)
    assert not any(
        orjson.loads(r.value).get("touchpoint") == "checkout.error" for r in calm.records if r.kind != "invalid"
    )
