"""Alert rules from the `[alerts]` settings: Prometheus rules over the processes' series (what
pages on-call), and the same friction spike as a Grafana-managed rule over the ClickHouse rollup
(for teams without Prometheus).

A spike compares the last window's rate with the hour before it and with the same window a day
earlier (whichever is higher: a daily rush is not a spike once a day of history exists), and must
also clear a floor per kind, so a quiet series going from 0.1 to 0.4 per minute pages nobody. The
workers export every kind's counter from start-up (at 0), so a baseline exists a window after a
worker starts, and the first occurrence of a kind can page too."""

from __future__ import annotations

from typing import Any

from journey.cli.dashboards.boards import FRICTION, FUNNELS, PIPELINE
from journey.cli.dashboards.model import CLICKHOUSE, TABLE, clickhouse_target
from journey.config import AlertSettings, Settings
from journey.schemas.queries import Query

# Friction kinds with alerts of their own (or none): repeat contacts are a slower signal, and a
# reactivated customer is good news.
NOT_SPIKE_KINDS = ("repeat_contact", "reactivated")


def _duration(minutes: float) -> str:
    return f"{round(minutes * 60)}s"


def _board(settings: AlertSettings, uid: str, query: str = "") -> str:
    return f"{settings.grafana_url.rstrip('/')}/d/{uid}{query}"


SIGNALS_RATE, SIGNALS_BASELINE = "journey:friction_signals:per_minute", "journey:friction_signals:per_minute:baseline"
ABANDON_RATE, ABANDON_BASELINE = "journey:abandonments:per_minute", "journey:abandonments:per_minute:baseline"
CONTACTS, CONTACTS_BASELINE = "journey:repeat_contacts:per_window", "journey:repeat_contacts:per_window:baseline"


def _rate_and_baseline(name: str, baseline: str, now: str, by: str, window_minutes: int) -> list[dict[str, Any]]:
    """`name` = `now`, and its baseline: the higher of its average over the hour before the window
    and its value a day earlier. An average of the recorded series, not a rate over the hour: a
    rate over an hour of which only part has data (a new series) would read low and page."""
    hour_before = f"avg_over_time({name}[1h] offset {window_minutes}m)"
    earlier = (f'label_replace({hour_before}, "ago", "previous_hour", "", "")\n'
               f'or label_replace({name} offset 1d, "ago", "1d", "", "")')  # fmt: skip
    return [{"record": name, "expr": now}, {"record": baseline, "expr": f"max by ({by}) (\n{earlier}\n)"}]


def recording_rules(alerts: AlertSettings) -> list[dict[str, Any]]:
    window, contact_window = alerts.spike_window_minutes, alerts.repeat_contact_window_minutes
    return [
        *_rate_and_baseline(SIGNALS_RATE, SIGNALS_BASELINE,
                            f"sum by (kind) (rate(journey_friction_signals_total[{window}m])) * 60", "kind", window),
        *_rate_and_baseline(ABANDON_RATE, ABANDON_BASELINE,
                            f"sum by (flow) (rate(journey_abandonments_total[{window}m])) * 60", "flow", window),
        *_rate_and_baseline(CONTACTS, CONTACTS_BASELINE,
                            f'sum by (kind) (increase(journey_friction_signals_total{{kind="repeat_contact"}}[{contact_window}m]))',
                            "kind", contact_window),
    ]  # fmt: skip


def spike_expr(rate: str, baseline: str, factor: float, floor: float, floor_op: str = ">") -> str:
    return f"{rate} > {factor:g} * {baseline}\nand {rate} {floor_op} {floor:g}"


def _spike_rule(settings: AlertSettings, kind: str, rate: str, baseline: str, flow_label: bool) -> dict[str, Any]:
    floor = settings.spike_floor_per_minute[kind]
    where = " in flow {{ $labels.flow }}" if flow_label else ""
    board = _board(
        settings,
        FUNNELS if flow_label else FRICTION,
        "?var-flow={{ $labels.flow }}" if flow_label else f"?var-kind={kind}",
    )
    return {
        "alert": "FrictionSpike",
        "expr": spike_expr(rate, baseline, settings.spike_factor, floor),
        "for": _duration(settings.for_minutes),
        "labels": {
            "severity": "critical" if kind in settings.critical_kinds else "warning",
            "kind": kind,
            "team": "cx",
        },
        "annotations": {
            "summary": f'{kind} signals spiking{where}: {{{{ $value | printf "%.1f" }}}}/min',
            "description": (
                f"{kind} friction over the last {settings.spike_window_minutes} min is above "
                f"{settings.spike_factor:g}x the rate an hour and a day earlier, and above "
                f"{floor:g}/min. Open the board, look at where (flow, step, element) it grows."
            ),
            "dashboard": board,
        },
    }


def prometheus_rules(settings: Settings) -> dict[str, Any]:
    alerts = settings.alerts
    friction = []
    for kind in alerts.spike_floor_per_minute:
        if kind in NOT_SPIKE_KINDS:
            continue
        if kind == "abandonment":  # per flow: a broken checkout must not hide behind a healthy signup
            friction.append(_spike_rule(alerts, kind, ABANDON_RATE, ABANDON_BASELINE, True))
        else:
            selector = f'{{kind="{kind}"}}'
            friction.append(_spike_rule(alerts, kind, SIGNALS_RATE + selector, SIGNALS_BASELINE + selector, False))
    friction.append({
        "alert": "RepeatContactSurge",
        "expr": spike_expr(CONTACTS, CONTACTS_BASELINE, alerts.spike_factor, alerts.repeat_contact_floor, ">="),
        "for": _duration(alerts.for_minutes),
        "labels": {"severity": "critical", "kind": "repeat_contact", "team": "support"},
        "annotations": {
            "summary": "Customers contacting support again and again: {{ $value | printf \"%.0f\" }} repeat contacts "
                       f"in {alerts.repeat_contact_window_minutes} min",
            "description": "More repeat-contact signals than the floor and than the same window a day earlier: "
                           "something sends customers back to support. The board lists who and on which channels; "
                           "each customer links to their whole journey (the Customer journey board, or "
                           "`journey customer ID`).",
            "dashboard": _board(alerts, FRICTION, "?var-kind=repeat_contact"),
        },
    })  # fmt: skip
    pipeline = _pipeline_rules(alerts)
    # Recording rules first in the alerts' own group: a group evaluates its rules in order, so the
    # alerts always read this evaluation's rates.
    return {"groups": [{"name": "journey-friction", "rules": [*recording_rules(alerts), *friction]},
                       {"name": "journey-pipeline", "rules": pipeline}]}  # fmt: skip


def _pipeline_rules(alerts: AlertSettings) -> list[dict[str, Any]]:
    stalled = f"{round(alerts.stalled_minutes * 60)}s"
    dead = 'sum(rate(journey_events_total{stage="ingest", outcome=~"invalid|misrouted"}[10m]))'
    board = _board(alerts, PIPELINE)
    return [
        {
            "alert": "DLQRateHigh",
            "expr": (
                f'{dead} / sum(rate(journey_events_total{{stage="ingest"}}[10m])) > {alerts.dlq_share:g}\n'
                f"and {dead} * 60 > {alerts.dlq_floor_per_minute:g}"
            ),
            "for": _duration(alerts.for_minutes),
            "labels": {"severity": "warning", "team": "platform"},
            "annotations": {
                "summary": "{{ $value | humanizePercentage }} of input events go to the dead-letter topic",
                "description": "A publisher sends events the pipeline rejects (schema, missing ids). Each DLQ "
                "record carries the reason and the original bytes: read them to find the sender.",
                "dashboard": board,
            },
        },
        {
            "alert": "PipelineStalled",
            "expr": (
                f"min by (consumer) (min_over_time(journey_consumer_lag[{stalled}])) > 0\n"
                f'and on (consumer) (label_replace(sum(increase(journey_events_total[{stalled}])) or vector(0), "consumer", "stages", "", "")\n'
                f'  or label_replace(sum(increase(journey_sink_rows_total[{stalled}])) or vector(0), "consumer", "sink", "", "")) == 0'
            ),
            "for": "0s",  # the window already is the waiting time
            "labels": {"severity": "critical", "team": "platform"},
            "annotations": {
                "summary": "{{ $labels.consumer }} have a backlog of {{ $value }} records and processed nothing "
                f"for {alerts.stalled_minutes:g} min",
                "description": "Input waits and nothing moves: look at the processes' logs and /healthz, "
                "the consumer group (docs/operations.md), and ClickHouse for the sink.",
                "dashboard": board,
            },
        },
        {
            "alert": "SinkFailing",
            "expr": (
                "min(journey_sink_clickhouse_up) == 0\n"
                "or (sum(rate(journey_sink_insert_failures_total[5m])) > 0 and sum(rate(journey_sink_rows_total[5m])) == 0)"
            ),
            "for": _duration(alerts.for_minutes),
            "labels": {"severity": "critical", "team": "platform"},
            "annotations": {
                "summary": "The sink cannot write to ClickHouse",
                "description": "Inserts fail and nothing lands; the sink holds its offsets and retries, so no data "
                "is lost while Kafka keeps it. Check ClickHouse (reachable, disk, too many parts).",
                "dashboard": board,
            },
        },
        {
            "alert": "InputRecordsSkipped",
            "expr": "sum by (topic) (increase(journey_offset_gaps_total[15m])) > 0",
            "for": "0s",  # every skipped record is one too many
            "labels": {"severity": "critical", "team": "platform"},
            "annotations": {
                "summary": "{{ $value }} records of {{ $labels.topic }} were skipped by the stages",
                "description": "A stage read an input partition past a gap in its offsets: records deleted by "
                "retention before they were read, or skipped. Figures of this period may miss events; "
                "the worker log names the partition and offsets (docs/operations.md).",
                "dashboard": board,
            },
        },
        {
            "alert": "NumbersDoNotAddUp",
            "expr": "max by (check) (journey_audit_violations) > 0",
            "for": "0s",  # the gauge already holds only what two audits running found
            "labels": {"severity": "critical", "team": "platform"},
            "annotations": {
                "summary": "{{ $value }} rows break the {{ $labels.check }} invariant (journey audit)",
                "description": "What the boards show does not add up: on-time touchpoints in no session, a completed "
                "flow reported abandoned, a negative recovery time, a stage reached twice, or rollups that differ "
                'from raw rows. Run `journey audit` and see docs/operations.md ("Do the numbers add up?").',
                "dashboard": board,
            },
        },
        {
            "alert": "JourneyProcessDown",
            "expr": 'up{job=~"journey.*"} == 0',
            "for": _duration(alerts.for_minutes),
            "labels": {"severity": "critical", "team": "platform"},
            "annotations": {
                "summary": "{{ $labels.instance }} ({{ $labels.job }}) does not answer Prometheus",
                "description": "A worker or sink is down or unreachable; its partitions move to the others after "
                "the group's session timeout. Its own alerts cannot fire while it is down.",
                "dashboard": board,
            },
        },
    ]


# -- Grafana-managed alternative -------------------------------------------------------------------
def friction_spike_query(alerts: AlertSettings) -> Query:
    """Per kind (and flow, for abandonments) over the rollup, as the Prometheus rule: signals in the
    last window; the baseline, the higher of the hour before it (scaled to the window) and the same
    window a day earlier; `spike` = the current count where it is a spike, else 0."""
    window = alerts.spike_window_minutes
    kinds = [k for k in alerts.spike_floor_per_minute if k not in NOT_SPIKE_KINDS]
    floors = ", ".join(f"{alerts.spike_floor_per_minute[k] * window:g}" for k in kinds)
    names = ", ".join(f"'{k}'" for k in kinds)

    def count_in(ago_minutes: int, length_minutes: int) -> str:
        return (f"uniqExactMergeIf(signals, minute >= {{to}} - INTERVAL {ago_minutes + length_minutes} MINUTE "
                f"AND minute < {{to}} - INTERVAL {ago_minutes} MINUTE)")  # fmt: skip

    return Query(
        "friction_spike_alert",
        "Friction spike (ClickHouse)",
        f"""
SELECT kind AS signal_kind, flow_key AS flow_name,
       toFloat64(current) AS current_signals,
       toFloat64(greatest(hour_before * {window / 60:g}, day_earlier)) AS baseline_signals,
       if(current > {alerts.spike_factor:g} * baseline_signals AND current > transform(kind, [{names}], [{floors}], 0),
          current_signals, 0) AS spike
FROM (
    SELECT kind, if(kind = 'abandonment', flow, '') AS flow_key,
           {count_in(0, window)} AS current,
           {count_in(window, 60)} AS hour_before,
           {count_in(24 * 60, window)} AS day_earlier
    FROM {{db}}.friction_per_minute
    WHERE minute >= {{to}} - INTERVAL {24 * 60 + window} MINUTE AND minute < {{to}} AND kind IN ({names})
    GROUP BY kind, flow_key
)
ORDER BY signal_kind, flow_name""",
    )


def grafana_alert_rules(settings: Settings) -> dict[str, Any]:
    alerts = settings.alerts
    query = friction_spike_query(alerts)
    source = clickhouse_target(query, settings.clickhouse.database, TABLE)
    source.pop("datasource")
    return {
        "apiVersion": 1,
        "groups": [{
            "orgId": 1, "name": "journey-friction", "folder": "Journey Telemetry", "interval": "1m",
            "rules": [{
                "uid": "journey-friction-spike",
                "title": "FrictionSpike (ClickHouse)",
                "condition": "C",
                "data": [
                    {"refId": "A", "datasourceUid": CLICKHOUSE["uid"],
                     "relativeTimeRange": {"from": (24 * 60 + alerts.spike_window_minutes) * 60, "to": 0},
                     "model": {**source, "refId": "A"}},
                    {"refId": "C", "datasourceUid": "__expr__", "relativeTimeRange": {"from": 0, "to": 0},
                     "model": {"refId": "C", "type": "threshold", "expression": "A",
                               "datasource": {"type": "__expr__", "uid": "__expr__"},
                               "conditions": [{"evaluator": {"type": "gt", "params": [0]}}]}},
                ],
                "noDataState": "OK", "execErrState": "Error",
                "for": _duration(alerts.for_minutes),
                "labels": {"severity": "warning", "source": "clickhouse"},
                "annotations": {
                    "summary": "{{ $labels.signal_kind }} {{ $labels.flow_name }} spiking: {{ $values.A }} signals "
                               f"in {alerts.spike_window_minutes} min",
                    "description": f"Above {alerts.spike_factor:g}x the same window an hour and a day earlier and above "
                                   "the kind's floor (the Prometheus FrictionSpike rule, computed from the rollup).",
                    "__dashboardUid__": FRICTION,
                },
            }],
        }],
    }  # fmt: skip
