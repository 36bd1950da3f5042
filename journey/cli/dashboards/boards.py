"""The seven Grafana boards. ClickHouse panels render the shared query definitions
(schemas/queries.py for what the report also shows, schemas/board_queries.py for the rest); the
pipeline-health board reads the processes' Prometheus series."""

from __future__ import annotations

from functools import partial
from typing import Any

from journey.cli.dashboards.model import (
    TABLE,
    TIME_SERIES,
    Panel,
    clickhouse_target,
    custom_variable,
    dashboard,
    prometheus_target,
    prometheus_variable,
    query_variable,
    textbox_variable,
)
from journey.config import SIGNAL_KINDS, Settings
from journey.schemas import board_queries as bq
from journey.schemas import queries as rq
from journey.schemas.customer_queries import CUSTOMER_QUERIES, for_grafana
from journey.schemas.map_queries import map_queries
from journey.schemas.path_queries import STAGE_FLOW, paths_into_friction, paths_to_first_contact

FOLDER_TAGS = ["journey-telemetry"]
OVERVIEW, FUNNELS, FRICTION, CX, PIPELINE = (
    "journey-overview",
    "journey-funnels",
    "journey-friction",
    "journey-cx",
    "journey-pipeline",
)
JOURNEY_MAP, CUSTOMER = "journey-map", "journey-customer"
# A customer column's data link: that customer's journey (the board keyed by the stored journey key).
CUSTOMER_LINK = {"customer": ("Customer journey", f"/d/{CUSTOMER}/customer-journey?var-customer=${{__value.raw}}")}


def board_links() -> list[dict[str, Any]]:
    return [{"title": "Journey Telemetry boards", "type": "dashboards", "tags": FOLDER_TAGS, "asDropdown": True}]


def _targets(database: str, query: rq.Query, format: int = TABLE) -> list[dict[str, Any]]:
    return [clickhouse_target(query, database, format)]


def _series(label_column: str) -> str:
    return f"${{__field.labels.{label_column}}}"


def journey_overview(settings: Settings) -> dict[str, Any]:
    db = settings.clickhouse.database
    ch = partial(_targets, db)

    panels = [
        Panel("Active customers", "stat", ch(bq.ACTIVE_CUSTOMERS), width=6, height=5,
              description="Known customers with a touchpoint in the window, and anonymous visitors not (yet) linked "
                          "to one (a visitor who signs up later counts once as each)."),
        Panel("Journeys and touchpoints", "stat", ch(bq.ACTIVE_JOURNEYS), width=6, height=5,
              description="Distinct journeys (known and anonymous, an estimate from the rollup) and touchpoints."),
        Panel("Sessions", "table", ch(rq.SESSIONS), width=12, height=5,
              description="Sessions started in the window: count, customers, p50/p90 duration, multichannel share."),
        Panel("Touchpoints per minute by stage", "timeseries", ch(bq.TOUCHPOINTS_BY_STAGE_OVER_TIME, TIME_SERIES),
              unit="short", min_interval="1m", display_name=_series("journey_stage")),
        Panel("Touchpoints per minute by channel", "timeseries", ch(bq.TOUCHPOINTS_BY_CHANNEL_OVER_TIME, TIME_SERIES),
              unit="short", min_interval="1m", display_name=_series("touchpoint_channel")),
        Panel("New sessions", "timeseries", ch(bq.NEW_SESSIONS_OVER_TIME, TIME_SERIES), min_interval="1m"),
        Panel("Session duration percentiles", "timeseries", ch(bq.SESSION_DURATION_OVER_TIME, TIME_SERIES),
              unit="m", min_interval="1m"),
        Panel("Stage transitions", "table", ch(rq.STAGE_TRANSITIONS), width=12, height=9,
              description="From → to, with the median time spent in the stage left (a Sankey in table form)."),
        Panel("Time to first value", "table", ch(rq.TIME_TO_FIRST_VALUE), width=6, height=9,
              description="Signup to the first activation touchpoint, for customers activated in the window."),
        Panel("Time to first value (days)", "barchart", ch(bq.TIME_TO_FIRST_VALUE_DISTRIBUTION), width=6, height=9,
              options={"xField": "days"}),
    ]  # fmt: skip
    variables = [query_variable("channel", "Channel", bq.CHANNELS, db)]
    return dashboard(OVERVIEW, "Journey overview", "Volume, customers, sessions and stage movement.", panels,
                     variables, FOLDER_TAGS, links=board_links())  # fmt: skip


def funnels(settings: Settings) -> dict[str, Any]:
    db, friction = settings.clickhouse.database, settings.friction
    per_flow = [
        Panel(f"Funnel: {name}", "bargauge", [clickhouse_target(rq.funnel_query(name, flow), db)], width=8, height=8,
              description=f"Journeys reaching each step of {name} (and every earlier one) in the window.",
              options={"orientation": "horizontal", "displayMode": "basic", "reduceOptions": {"values": True, "fields": "/^journeys$/"}})
        for name, flow in friction.flows.items()
    ]  # fmt: skip
    drop_off = [
        Panel(f"Drop-off: {name}", "table", [clickhouse_target(rq.funnel_query(name, flow), db)], width=8, height=8,
              description="Per step: journeys, share of starters still there, drop-off from the step before (%).")
        for name, flow in friction.flows.items()
    ]  # fmt: skip
    panels = [*[p for pair in zip(per_flow, drop_off, strict=True) for p in pair],
              Panel("Completion rate by flow", "timeseries",
                    [clickhouse_target(bq.completion_rate_over_time(friction), db, TIME_SERIES)], width=12,
                    unit="percent", min_interval="5m", display_name=_series("flow_name")),
              Panel("Abandonments per minute by flow", "timeseries",
                    [clickhouse_target(bq.ABANDONMENTS_OVER_TIME, db, TIME_SERIES)], width=12, min_interval="1m",
                    display_name=_series("flow_name"))]  # fmt: skip
    # The funnels are one pair of panels per configured flow; the variable narrows the trends.
    variables = [custom_variable("flow", "Flow", list(friction.flows))]
    return dashboard(FUNNELS, "Funnels", "Conversion per step, drop-off and completion trend per flow.", panels,
                     variables, FOLDER_TAGS, links=board_links())  # fmt: skip


def friction_board(settings: Settings) -> dict[str, Any]:
    db, friction = settings.clickhouse.database, settings.friction
    ch = partial(_targets, db)

    panels = [
        Panel("Friction signals per minute by kind", "timeseries", ch(bq.SIGNALS_BY_KIND_OVER_TIME, TIME_SERIES),
              width=16, min_interval="1m", display_name=_series("signal_kind")),
        Panel("Signals by kind", "table", ch(rq.FRICTION_BY_KIND), width=8),
        Panel("Abandonments by flow and step", "barchart", ch(bq.ABANDONMENT_BY_STEP), width=12,
              options={"xField": "last_step"}),
        Panel("Customers with repeated contacts", "table", ch(bq.repeat_contacts(friction)), width=12, column_links=CUSTOMER_LINK,
              description="Support contacts on any channel in the window, at least $min_contacts per customer."),
        Panel("Rage clicks by element", "table", ch(bq.RAGE_CLICKS_BY_ELEMENT), width=12),
        Panel("Self-service failures", "timeseries", ch(bq.SELF_SERVICE_FAILURES, TIME_SERIES), width=12,
              min_interval="5m", description="Help searches or articles without success, then a contact.",
              display_name=_series("contact")),
        Panel("Top friction places", "table", ch(rq.TOP_FRICTION_PLACES), width=24),
        Panel("Paths into friction", "table", ch(paths_into_friction(settings)), width=24, height=10,
              description="The most common last touchpoints before each kind of signal (abandonments by flow and "
                          "step), with their share."),
        Panel("Latest critical signals", "table", ch(bq.LATEST_CRITICAL_SIGNALS), width=24, height=10, column_links=CUSTOMER_LINK,
              description="Newest first; `evidence` holds the events that raised each signal."),
    ]  # fmt: skip
    variables = [
        custom_variable("kind", "Signal kind", list(SIGNAL_KINDS)),
        custom_variable("flow", "Flow", list(friction.flows)),
        query_variable("channel", "Channel", bq.CHANNELS, db),
        textbox_variable("account", "Account id"),
        custom_variable("min_contacts", "Contacts at least", ["2", "3", "5", "10"], multi=False,
                        default=str(friction.repeat_contact_severity.warning)),
    ]  # fmt: skip
    return dashboard(FRICTION, "Friction", "Where customers struggle: signals by kind, flows, contacts, clicks.",
                     panels, variables, FOLDER_TAGS, links=board_links())  # fmt: skip


def cx_scores(settings: Settings) -> dict[str, Any]:
    db = settings.clickhouse.database
    ch = partial(_targets, db)

    panels = [
        Panel("NPS", "stat", ch(bq.NPS), width=8, height=6,
              options={"reduceOptions": {"fields": "/^nps$/", "calcs": ["lastNotNull"]}},
              description="% promoters (9-10) minus % detractors (0-6), -100..100."),
        Panel("Promoters, passives, detractors", "bargauge", ch(bq.NPS), width=16, height=6,
              options={"reduceOptions": {"fields": "/^(promoters|passives|detractors)$/", "calcs": ["lastNotNull"]}}),
        Panel("NPS, CSAT % and CES over time", "timeseries", ch(bq.CX_OVER_TIME, TIME_SERIES), width=24,
              min_interval="1h", display_name=_series("measure")),
        Panel("Scores", "table", ch(rq.CX_SCORES), width=12),
        Panel("Scores per channel", "table", ch(bq.CX_BY_CHANNEL), width=12),
    ]  # fmt: skip
    variables = [query_variable("channel", "Channel", bq.SURVEY_CHANNELS, db)]
    return dashboard(CX, "CX scores", "NPS, CSAT and CES, per channel and over time.", panels, variables,
                     FOLDER_TAGS, time_from="now-7d", links=board_links())  # fmt: skip


# Pipeline health reads the processes' own series; `$instance` narrows to some processes.
PIPELINE_PANELS: list[tuple[str, str, str, str]] = [
    # title, PromQL, legend, unit
    ("Events per second by stage and outcome",
     'sum by (stage, outcome) (rate(journey_events_total{instance=~"$instance"}[$__rate_interval]))', "{{stage}} {{outcome}}", "ops"),
    ("Dead-lettered per second",
     'sum(rate(journey_events_total{instance=~"$instance", outcome=~"invalid|misrouted"}[$__rate_interval])) '
     'or vector(0)', "invalid events", "ops"),
    ("Sink dead letters per second",
     'sum by (topic) (rate(journey_sink_dead_letters_total{instance=~"$instance"}[$__rate_interval]))', "{{topic}}", "ops"),
    ("Consumer lag (records)", 'max by (consumer) (journey_consumer_lag{instance=~"$instance"})', "{{consumer}}", "short"),
    ("Sink rows per second by table",
     'sum by (table) (rate(journey_sink_rows_total{instance=~"$instance"}[$__rate_interval]))', "{{table}}", "rows"),
    ("Sink batch latency p95",
     'histogram_quantile(0.95, sum by (le) (rate(journey_sink_batch_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
     "p95", "s"),
    ("ClickHouse reachable (sink)", 'min(journey_sink_clickhouse_up{instance=~"$instance"})', "up", "bool"),
    ("Active sessions", 'sum(journey_active_sessions{instance=~"$instance"})', "open sessions", "short"),
    ("Friction signals per second by kind",
     'sum by (kind) (rate(journey_friction_signals_total{instance=~"$instance"}[$__rate_interval]))', "{{kind}}", "ops"),
    ("Event-time lag p95 (processing − event time)",
     'histogram_quantile(0.95, sum by (le) (rate(journey_event_time_lag_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
     "p95", "s"),
]  # fmt: skip


def journey_map_board(settings: Settings) -> dict[str, Any]:
    """The journey map as tables, one row per segment value and stage (the default segment;
    `journey map --segment NAME` and /map show the others)."""
    db, queries = settings.clickhouse.database, map_queries(settings)
    panels = [
        Panel("Stages: reached, conversion, time in stage, drop-out", "table", _targets(db, queries.stages), width=24,
              description="Per segment and stage: customers who reached it in the window, conversion to a later "
                          "stage, p50/p90 hours in it, drop-out (churned, or silent for journey_map.silent_days)."),
        Panel("What customers do (top touchpoints)", "table", _targets(db, queries.touchpoints), width=12,
              description="Touchpoints in each stage (the stage the customer was in at the time)."),
        Panel("Channel mix", "table", _targets(db, queries.channels), width=12),
        Panel("Pain points", "table", _targets(db, queries.pain_points), width=12,
              description="Friction signals by kind and place raised while customers were in the stage."),
        Panel("Sentiment (emotion curve)", "table", _targets(db, queries.sentiment), width=12,
              description="NPS, CSAT % and CES of the answers given in each stage."),
        Panel("Biggest opportunity per stage", "table", _targets(db, queries.opportunities), width=24,
              description="The pain point whose customers convert least to a later stage compared with those in "
                          "the stage without it, with the counts behind it."),
        Panel("Stage flow", "table", _targets(db, STAGE_FLOW), width=12,
              description="Customers moving from stage to stage in the window (report.html draws it as a Sankey)."),
        Panel("Paths to a first support contact", "table", _targets(db, paths_to_first_contact(settings)), width=12,
              description="The last touchpoints before each customer's first support contact in the window."),
        Panel("Churn per segment, with and without critical friction", "table", _targets(db, queries.churn), width=24,
              description="Customers during the window (at its start or new in it), how many churned, and the churn "
                          "of those who met a critical friction signal first against those who did not (lift)."),
    ]  # fmt: skip
    return dashboard(JOURNEY_MAP, f"Journey map by {queries.segment}", "Stages, what customers do, pain points, "
                     "sentiment and opportunities per segment.", panels, [], FOLDER_TAGS, links=board_links())  # fmt: skip


def customer_board(settings: Settings) -> dict[str, Any]:
    """One customer's journey for support agents (`journey customer ID` and /customers/{id} show the
    same, with what is open right now): the `customer` text box takes the journey key."""
    db = settings.clickhouse.database
    wide = {"customer_timeline", "customer_sessions", "customer_signals"}
    panels = [Panel(query.title, "table", [clickhouse_target(rq.Query(query.name, query.title, for_grafana(query.sql)), db)],
                    width=24 if query.name in wide else 12, height=10 if query.name in wide else 7)
              for query in CUSTOMER_QUERIES]  # fmt: skip
    return dashboard(CUSTOMER, "Customer journey", "Everything about one customer across channels: linked ids, "
                     "stage changes, sessions, friction with evidence, survey answers, the timeline.", panels,
                     [textbox_variable("customer", "Customer (journey key)")], FOLDER_TAGS, time_from="now-1y",
                     links=board_links())  # fmt: skip


def pipeline_health(settings: Settings) -> dict[str, Any]:
    panels = [Panel(title, "timeseries", [prometheus_target(expr, legend)], unit=unit)
              for title, expr, legend, unit in PIPELINE_PANELS]  # fmt: skip
    variables = [prometheus_variable("instance", "Process", "journey_events_total", "instance")]
    return dashboard(PIPELINE, "Pipeline health", "Throughput, rejects, lag and the sink, from Prometheus.",
                     panels, variables, FOLDER_TAGS, time_from="now-1h", refresh="30s", links=board_links())  # fmt: skip


def all_boards(settings: Settings) -> dict[str, dict[str, Any]]:
    """File name (without .json) → dashboard JSON."""
    boards = [journey_overview(settings), funnels(settings), friction_board(settings), cx_scores(settings),
              journey_map_board(settings), customer_board(settings), pipeline_health(settings)]  # fmt: skip
    return {board["uid"]: board for board in boards}
