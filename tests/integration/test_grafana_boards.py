"""Every ClickHouse query of every board (panels, template variables, the Grafana-managed alert
rule), with variables and macros expanded as Grafana and the plugin do, run against ClickHouse
filled by the real pipeline (SDK → Kafka → `journey worker` → sink → embedded engine) from a
scripted scenario whose figures are computed here by hand."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from journey.cli.dashboards.alerts import grafana_alert_rules
from journey.cli.dashboards.boards import all_boards
from journey.config import SIGNAL_KINDS, AlertSettings, ClickHouseSettings, Settings, SinkSettings
from journey.publisher import TouchpointPublisher
from journey.sinks.clickhouse_client import connect
from journey.sinks.migrations import migrate
from journey.sinks.sink import ClickHouseSink
from journey.topics import create_topics
from tests.conftest import broker_settings
from tests.grafana_sql import clickhouse_targets, expand_macros, interpolate_variables, panel_interval_s
from tests.integration.board_scenario import T0, Scenario, board_scenario
from tests.integration.worker_helpers import advance_event_time, make_test_worker, wait_quiet, wait_until

pytestmark = pytest.mark.integration

# The boards' time range: the scenario's day (the test clock's heartbeat two days on stays out).
START, END = T0 - timedelta(hours=1), T0 + timedelta(days=1)


@dataclass
class Seeded:
    client: Client
    settings: Settings
    scenario: Scenario

    def run(self, sql: str, variables: dict[str, list[str]], interval_s: int = 60,
            start: datetime = START, end: datetime = END) -> tuple[list[str], list[dict[str, Any]]]:  # fmt: skip
        expanded = expand_macros(interpolate_variables(sql, variables), start, end, interval_s)
        result = self.client.query(expanded)
        return list(result.column_names), [
            dict(zip(result.column_names, row, strict=True)) for row in result.result_rows
        ]


@pytest.fixture(scope="module")
def seeded(kafka_broker, chdb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The scenario through the real pipeline into a database of this module's own."""
    settings = broker_settings(
        kafka_broker,
        clickhouse=ClickHouseSettings(dsn=f"chdb://{chdb_path}", database=f"b_{uuid.uuid4().hex[:10]}"),
        sink=SinkSettings(max_rows=500, max_wait_s=0.2),
    )
    client = connect(settings.clickhouse)
    migrate(client, settings.clickhouse)
    create_topics(settings)
    scenario = board_scenario()
    worker = make_test_worker(settings, tmp_path_factory.mktemp("board-worker"))
    worker.start()
    sink = ClickHouseSink(settings)
    sink_thread = threading.Thread(target=sink.run, daemon=True)
    sink_thread.start()
    try:
        with TouchpointPublisher(settings.publisher) as publisher:
            for event in scenario.events:
                publisher.publish(event)
        # Journeys first, then event time moves on: sessions close and unfinished flows time out.
        wait_quiet(settings, stages_only=True)
        advance_event_time(settings, T0 + timedelta(days=2))
        wait_until(lambda: client.query(
            f"SELECT count() FROM {settings.clickhouse.database}.friction_signals WHERE kind = 'abandonment'"
        ).result_rows[0][0] >= scenario.customers - len(scenario.ids(bool)), 120, lambda: "no signup abandonments yet")  # fmt: skip
        wait_quiet(settings)
    finally:
        sink.stop()
        sink_thread.join(60)
        worker.stop()
    yield Seeded(client, settings, scenario)
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database} SYNC")


# bc-002 signs up (linked anonymous id), starts checkout, rage-clicks at payment, answers the surveys.
TYPED = {"customer": "bc-002"}


def all_values(seeded: Seeded, board: dict[str, Any]) -> dict[str, list[str]]:
    """Each variable at its default, "All" expanded to every option (as Grafana sends it)."""
    values: dict[str, list[str]] = {}
    for variable in board["templating"]["list"]:
        current = variable["current"]["value"]
        if variable["type"] == "textbox":  # what a user types: the customer board gets one of the scenario's
            values[variable["name"]] = [TYPED.get(variable["name"], variable["query"])]
        elif variable["type"] == "custom" and current != ["$__all"]:
            values[variable["name"]] = [current]
        elif variable["type"] == "custom":
            values[variable["name"]] = [option["value"] for option in variable["options"]]
        else:
            _, rows = seeded.run(variable["query"], {})
            values[variable["name"]] = [next(iter(row.values())) for row in rows]
    return values


def clickhouse_boards(settings: Settings) -> list[dict[str, Any]]:
    return [b for b in all_boards(settings).values() if any(True for _ in clickhouse_targets(b))]


def panel_results(seeded: Seeded) -> dict[str, tuple[dict[str, Any], list[str], list[dict[str, Any]]]]:
    """Query name → (panel, columns, rows) for every ClickHouse target of every board."""
    results = {}
    for board in clickhouse_boards(seeded.settings):
        values = all_values(seeded, board)
        for panel, target in clickhouse_targets(board):
            interval = panel_interval_s(panel, START, END)
            columns, rows = seeded.run(target["rawSql"], values, interval)
            results[f"{board['uid']}/{target['meta']['query']}"] = (panel, columns, rows)
    return results


def test_every_panel_query_answers_with_rows_of_the_right_shape(seeded: Seeded) -> None:
    results = panel_results(seeded)
    assert len(results) >= 25
    for name, (panel, columns, rows) in results.items():
        assert rows, f"{name} ({panel['title']}) returned no rows"
        if panel["type"] == "timeseries":
            assert columns[0] == "time", f"{name}: a time series starts with its time column"
            assert all(START <= row["time"].replace(tzinfo=START.tzinfo) < END for row in rows), name
            numbers = [v for row in rows for v in row.values() if isinstance(v, int | float)]
            assert numbers and all(v >= -100 for v in numbers), f"{name}: implausible values"


def test_panels_show_the_figures_of_the_scenario(seeded: Seeded) -> None:
    s, results = seeded.scenario, panel_results(seeded)
    rows = {name: result[2] for name, result in results.items()}
    n = s.customers

    # Each person: an anonymous visit before signing up (its own journey), then a customer journey.
    [customers] = rows["journey-overview/active_customers"]
    assert (customers["customers"], customers["anonymous_visitors"]) == (n, n)
    [active] = rows["journey-overview/active_journeys"]
    assert active["journeys"] == 2 * n
    assert active["touchpoints"] == len(s.events)
    per_channel = {}
    for row in rows["journey-overview/touchpoints_by_channel_over_time"]:
        per_channel[row["touchpoint_channel"]] = per_channel.get(row["touchpoint_channel"], 0) + row["per_minute"]
    interval_minutes = (
        panel_interval_s(results["journey-overview/touchpoints_by_channel_over_time"][0], START, END) / 60
    )
    expected = {}
    for event in s.events:
        expected[event["channel"]] = expected.get(event["channel"], 0) + 1
    assert {c: round(v * interval_minutes) for c, v in per_channel.items()} == expected

    # NPS from the answers (of those who got past signup), by hand: % promoters - % detractors.
    answered = s.ids(bool)
    answers = [s.nps(i) for i in answered]
    promoters, detractors = sum(a >= 9 for a in answers), sum(a <= 6 for a in answers)
    [nps] = rows["journey-cx/nps"]
    assert nps["nps"] == round(100 * (promoters - detractors) / len(answers), 1)
    assert -100 <= nps["nps"] <= 100
    assert (nps["promoters"], nps["passives"], nps["detractors"]) == (
        promoters,
        len(answers) - promoters - detractors,
        detractors,
    )
    csat = [r for r in rows["journey-cx/cx_by_channel"] if r["kind"] == "csat"]
    assert [(r["answer_channel"], r["answers"]) for r in csat] == [("survey", len(answered))]
    assert csat[0]["value"] == round(100 * sum(s.csat(i) >= 4 for i in answered) / len(answered), 1)

    # Signup: identified after its first step, one person all through (the funnel follows the link).
    signup = {r["step"]: r["journeys"] for r in rows["journey-funnels/funnel_signup"]}
    assert signup["started"] == signup["account"] == signup["profile"] == n
    assert signup["verify"] == signup["completed"] == len(s.ids(bool))

    checkout = {r["step"]: r for r in rows["journey-funnels/funnel_checkout"]}
    started, completed = len(s.ids(s.starts_checkout)), len(s.ids(s.completes_checkout))
    assert checkout["started"]["journeys"] == checkout["payment"]["journeys"] == started
    assert checkout["completed"]["journeys"] == completed
    assert checkout["completed"]["of_started_pct"] == round(100 * completed / started, 1)
    abandoned = {
        (r["flow_name"], r["last_step"]): r["abandonments"] for r in rows["journey-friction/abandonment_by_step"]
    }
    assert abandoned == {("checkout", "payment"): started - completed, ("signup", "profile"): n - len(s.ids(bool))}

    repeat = {r["customer"]: r["contacts"] for r in rows["journey-friction/repeat_contacts"]}
    contacts = {f"bc-{i:03d}": 3 * s.contacts_three_times(i) + s.fails_self_service(i) for i in s.ids(bool)}
    assert repeat == {c: k for c, k in contacts.items() if k >= 3}  # the board's default: at least 3
    [rage] = rows["journey-friction/rage_clicks_by_element"]
    rage_clickers = s.ids(s.rage_clicks)
    detected_at = seeded.settings.friction.rage_click_count  # a burst's signal is raised at its Nth click
    assert (rage["element"], rage["bursts"], rage["clicks"]) == (
        "pay-button",
        len(rage_clickers),
        detected_at * len(rage_clickers),
    )
    failures = sum(r["failures"] for r in rows["journey-friction/self_service_failures"])
    assert failures == len(s.ids(s.fails_self_service))
    critical = rows["journey-friction/latest_critical_signals"]
    assert {r["kind"] for r in critical} <= set(SIGNAL_KINDS)
    assert all(isinstance(orjson.loads(r["evidence"]), dict) for r in critical)
    kinds = {r["signal_kind"] for r in rows["journey-friction/signals_by_kind_over_time"]}
    assert {"abandonment", "rage_click", "repeat_contact", "self_service_failure", "negative_feedback"} <= kinds

    [ttfv] = rows["journey-overview/time_to_first_value"]
    assert ttfv["customers"] == len(s.ids(s.activates))


def test_variables_narrow_the_panels(seeded: Seeded) -> None:
    board = all_boards(seeded.settings)["journey-overview"]
    [(panel, target)] = [
        (p, t) for p, t in clickhouse_targets(board) if t["meta"]["query"] == "touchpoints_by_channel_over_time"
    ]
    _, rows = seeded.run(target["rawSql"], {"channel": ["web"]}, panel_interval_s(panel, START, END))
    assert rows and {r["touchpoint_channel"] for r in rows} == {"web"}

    friction = all_boards(seeded.settings)["journey-friction"]
    [target] = [t for _, t in clickhouse_targets(friction) if t["meta"]["query"] == "repeat_contacts"]
    values = all_values(seeded, friction) | {"account": ["acct-0"], "min_contacts": ["1"]}
    _, rows = seeded.run(target["rawSql"], values)
    s = seeded.scenario
    expected = {
        f"bc-{i:03d}" for i in s.ids(lambda i: i % 4 == 0 and (s.contacts_three_times(i) or s.fails_self_service(i)))
    }
    assert rows and {r["customer"] for r in rows} == expected and {r["account"] for r in rows} == {"acct-0"}


def test_grafana_managed_alert_rule_finds_the_spike_in_the_rollup(seeded: Seeded) -> None:
    """The rule's query, with floors low enough for the scenario: the scenario's signals are a
    spike (nothing an hour or a day before), so rows with spike > 0 show up."""
    settings = seeded.settings.model_copy(update={"alerts": AlertSettings(
        spike_floor_per_minute=dict.fromkeys(AlertSettings().spike_floor_per_minute, 0.01), spike_window_minutes=120)})  # fmt: skip
    [group] = grafana_alert_rules(settings)["groups"]
    [rule] = group["rules"]
    [source] = [d for d in rule["data"] if d["refId"] == "A"]
    end = T0 + timedelta(minutes=120)  # the window holds the scenario's signals; the baselines are empty
    columns, rows = seeded.run(source["model"]["rawSql"], {}, start=end - timedelta(days=1, minutes=120), end=end)
    assert columns == ["signal_kind", "flow_name", "current_signals", "baseline_signals", "spike"]
    spikes = {(r["signal_kind"], r["flow_name"]): r["spike"] for r in rows if r["spike"] > 0}
    assert spikes.get(("rage_click", "")) == len(seeded.scenario.ids(Scenario.rage_clicks))
    assert all(r["baseline_signals"] == 0 for r in rows)
