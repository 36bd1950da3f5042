"""The journey map on a scripted scenario through `journey run` (real broker, embedded engine),
its figures derived by hand below; the live /map.json and `journey map --json` agree.

Persona "a" (3 people): the sample journey (journey/cli/samples.py): ad click and landing page
(awareness), pricing (consideration) 5 min in, signup started at 9 min (decision), signup completed
and identified at 11 min, onboarding started a day later (onboarding), a step done, a help search
with no results, a support ticket and a CSAT of 2, then silence.
One of them (seed 0) answers the CSAT with 1 (critical negative feedback) and cancels on day 2
(churn).
Persona "b" (3 people): the same journey's first three events only: awareness, then pricing, then
silence; never identified.
The heartbeat clock moves event time to 3 days after the start; `silent_days` is 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.topics import create_topics
from tests.browser import render
from tests.integration.worker_helpers import advance_event_time, engine_json, make_test_worker, wait_caught_up

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERSONAS = {"a": range(0, 3), "b": range(3, 6)}


def scenario() -> list[dict]:
    events = []
    for persona, seeds in PERSONAS.items():
        for seed in seeds:
            journey = sample_journey(seed, START)
            journey[0]["properties"] = {**journey[0].get("properties", {}), "persona": persona}
            if seed == 0:
                assert journey[-1]["touchpoint"] == "survey.csat"
                journey[-1]["score"] = 1
                journey.append({"event_id": "00000000-0000-4000-8000-000000000001", "customer_id": journey[-1]["customer_id"],
                                "occurred_at": (START + timedelta(days=2)).isoformat(), "channel": "billing",
                                "touchpoint": "billing.cancelled", "source": "billing-service"})  # fmt: skip
            events.extend(journey if persona == "a" else journey[:3])
    return events


PATHS = """
import sys, orjson, clickhouse_connect
from journey.config import Settings
from journey.reports.report import data_window
from journey.schemas.path_queries import path_queries
from journey.schemas.queries import literal_time
c = clickhouse_connect.get_client(dsn=sys.argv[1])
start, end = data_window(c, "journey")
out = {}
for q in path_queries(Settings()):
    r = c.query(q.render("journey", literal_time(start), literal_time(end)))
    out[q.name] = [dict(zip(r.column_names, row)) for row in r.result_rows]
print(orjson.dumps(out).decode())
"""


def by_stage(journey_map: dict, persona: str) -> dict[str, dict]:
    return {column["stage"]: column for column in journey_map["segments"][persona]}


def test_the_map_of_a_scripted_scenario(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    run = make_test_worker(settings, tmp_path, "run", JOURNEY_CLICKHOUSE__DSN=f"chdb://{tmp_path / 'clickhouse'}",
                           JOURNEY_SINK__MAX_WAIT_S="0.3", JOURNEY_JOURNEY_MAP__SILENT_DAYS="1",
                           JOURNEY_JOURNEY_MAP__MIN_CUSTOMERS="1")  # fmt: skip
    run.start()
    try:
        with TouchpointPublisher(settings.publisher) as publisher:
            for event in scenario():
                publisher.publish(event)
        advance_event_time(settings, START + timedelta(days=3))
        wait_caught_up(settings, run, timeout_s=180)
        live = orjson.loads(run.fetch("/map.json?segment=persona"))
        page = run.fetch("/map").decode()
        customer = orjson.loads(run.fetch("/customers/cust-000000.json"))
        customer_page = run.fetch("/customers/cust-000000").decode()
        with pytest.raises(urllib.error.HTTPError, match="404"):
            run.fetch("/customers/cust-999999")
    finally:
        assert run.stop(signal.SIGTERM) == 0, run.log_tail()
    command = [sys.executable, "-c", "from journey.cli.app import app; app()", "map", "--segment", "persona", "--json"]
    printed = subprocess.run(command, env={**os.environ, **run.env}, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert orjson.loads(printed.stdout) == live  # the same map, from the live server and from the engine's files
    assert 'class="journey-map" data-segment="a"' in page and "emotion_csat" in page
    command = [sys.executable, "-c", "from journey.cli.app import app; app()", "customer", "cust-000000", "--json"]
    printed = subprocess.run(command, env={**os.environ, **run.env}, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert orjson.loads(printed.stdout)["sections"] == customer["sections"]  # the worker is gone: no live part then

    a, b = by_stage(live, "a"), by_stage(live, "b")
    # persona a: everyone through awareness, consideration and decision into onboarding, where they stay
    for stage in ("awareness", "consideration", "decision"):
        assert (a[stage]["reached"], a[stage]["converted"], a[stage]["conversion_pct"]) == (3, 3, 100.0), stage
    assert (a["onboarding"]["reached"], a["onboarding"]["converted"]) == (3, 0)
    # one churned from onboarding; the other two last seen 2 days before the end (silent_days 1)
    assert (a["onboarding"]["churned"], a["onboarding"]["silent"], a["onboarding"]["drop_out_pct"]) == (1, 2, 100.0)
    assert a["churn"]["reached"] == 1
    # decision: from the signup's completion (11.1 min in) to onboarding.started a day in: 24 h - 11 min = 23.8 h
    assert a["decision"]["p50_hours"] == a["decision"]["p90_hours"] == 23.8
    assert {t["touchpoint"] for t in a["onboarding"]["touchpoints"]} <= {
        "onboarding.started",
        "onboarding.step_completed",
        "help.searched",
        "support.ticket_opened",
        "survey.csat",
    }
    # three in-app events each (onboarding started, a step, the help search), a ticket, a survey answer
    assert {c["channel"]: c["events"] for c in a["onboarding"]["channels"]} == {"in_app": 9, "support": 3, "survey": 3}
    # the onboarding flow left at invite_team (3 days' timeout, reached by the clock), and a CSAT of 2
    pains = {(p["kind"], p["place"]): p["customers_per_100"] for p in a["onboarding"]["pain_points"]}
    assert pains[("negative_feedback", "survey.csat")] == 100.0
    assert a["onboarding"]["sentiment"] == {"csat": {"answers": 3, "value": 0.0}}
    assert a["onboarding"]["opportunity"] is None  # everyone has the pain points: nobody to compare with
    # churn: 3 became customers in the window, 1 churned; the one with critical friction (CSAT 1) is the one
    churn = live["churn"]["a"]
    assert (churn["customers_at_start"], churn["new_customers"], churn["churned"], churn["churn_rate_pct"]) == (
        0,
        3,
        1,
        33.33,
    )
    assert (churn["with_critical_friction"], churn["churned_with"], churn["churn_with_pct"]) == (1, 1, 100.0)
    assert (churn["without_critical_friction"], churn["churned_without"], churn["churn_without_pct"]) == (2, 0, 0.0)
    assert churn["churn_lift"] is None and "b" not in live["churn"]  # no churn without it; b never became customers
    # persona b: awareness into consideration, then silent there
    assert (b["awareness"]["reached"], b["awareness"]["conversion_pct"]) == (3, 100.0)
    assert (b["consideration"]["reached"], b["consideration"]["converted"], b["consideration"]["silent"]) == (3, 0, 3)
    assert b["decision"]["reached"] == 0 and b["consideration"]["pain_points"] == []

    # paths: the last 4 touchpoints up to each signal, and up to each first support contact
    paths = engine_json(PATHS, run.env["JOURNEY_CLICKHOUSE__DSN"])
    into = {(r["kind"], r["place"], r["path"]): (r["signals"], r["share_pct"]) for r in paths["paths_into_friction"]}
    assert into[
        ("negative_feedback", "", "onboarding.step_completed → help.searched → support.ticket_opened → survey.csat")
    ] == (3, 100.0)
    assert [(r["path"], r["customers"], r["share_pct"]) for r in paths["paths_to_first_contact"]] == [
        ("onboarding.started → onboarding.step_completed → help.searched → support.ticket_opened", 3, 100.0)
    ]
    flow = {(r["from_stage"], r["to_stage"]): r["customers"] for r in paths["stage_flow"]}
    assert {k: v for k, v in flow.items() if not k[1].startswith("clock")} == {  # the clock's heartbeats have no stage
        ("(new)", "awareness"): 6,
        ("awareness", "consideration"): 6,
        ("consideration", "decision"): 3,
        ("decision", "onboarding"): 3,
        ("onboarding", "churn"): 1,
    }

    # one customer's journey (seed 0): every touchpoint across both ids, stage changes, evidence, now
    sections = {
        s["name"]: [dict(zip(s["columns"], row, strict=True)) for row in s["rows"]] for s in customer["sections"]
    }
    assert [(r["anonymous_id"], r["kind"]) for r in sections["customer_ids"]] == [("anon-000000", "link")]
    expected = [
        e for e in scenario() if e.get("customer_id") == "cust-000000" or e.get("anonymous_id") == "anon-000000"
    ]
    assert [r["touchpoint"] for r in sections["customer_timeline"]] == [e["touchpoint"] for e in expected]
    assert [r["to_stage"] for r in sections["customer_stages"]] == [
        "awareness",
        "consideration",
        "decision",
        "onboarding",
        "churn",
    ]
    feedback = next(r for r in sections["customer_signals"] if r["kind"] == "negative_feedback")
    assert feedback["severity"] == "critical" and orjson.loads(feedback["details"])["score"] == 1
    assert [(r["kind"], r["score"]) for r in sections["customer_surveys"]] == [("csat", 1)]
    # onboarding began on day 1 and has 3 days before it counts as abandoned; the clock is at day 3
    assert customer["live"]["current_stage"] == "churn"
    assert {name: flow["steps_done"] for name, flow in customer["live"]["open_flows"].items()} == {
        "onboarding": ["welcome", "invite_team"]
    }
    assert "stage now: churn" in customer_page and "open flow onboarding since 2026-11-03T09:00" in customer_page
    for name, html in (("customer", customer_page), ("map", page)):  # as a browser shows them: no errors, no requests
        (tmp_path / f"{name}.html").write_text(html)
        rendered = render((tmp_path / f"{name}.html").as_uri(), tmp_path / f"{name}.png")
        assert rendered.errors == [] and rendered.requests == [], name
        assert (tmp_path / f"{name}.png").stat().st_size > 20_000
