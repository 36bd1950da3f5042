"""The queries behind the Grafana boards that the report does not have: time series, per-channel
breakdowns and drill-down tables. Same conventions as `schemas.queries` (and rendered the same
way): `{db}`, `{from}` / `{to}`, `{bucket:<column>}` / `{bucket_s}`, `{filters}`.

Per-minute values divide a bucket's count by its width in minutes, so a panel reads the same
whatever bucket Grafana picks (the panels ask for buckets of at least the rollup's grain).
"""

from __future__ import annotations

from journey.config import FrictionSettings
from journey.schemas.queries import Filter, Query, sql_list, sql_string

CHANNEL = Filter("channel", "channel IN {values}")
FLOW = Filter("flow", "flow IN {values}")
KIND = Filter("kind", "kind IN {values}")
# Signals raised by a timer (abandonment after a timeout, stalled onboarding) have no channel:
# a channel filter keeps them rather than hiding them.
SIGNAL_CHANNEL = Filter("channel", "(channel IS NULL OR channel IN {values})")
ACCOUNT = Filter("account", "({values} = '' OR account_id = {values})")  # a textbox: empty = every account

# -- template variables' option lists ------------------------------------------------------------
CHANNELS = Query(
    "channels",
    "Channels",
    """
SELECT DISTINCT channel FROM {db}.touchpoints_per_minute ORDER BY channel""",
)

SURVEY_CHANNELS = Query(
    "survey_channels",
    "Channels with survey answers",
    """
SELECT DISTINCT channel FROM {db}.cx_scores_per_hour ORDER BY channel""",
)


def per_minute_over_time(name: str, title: str, rollup: str, count: str, series: str, where: str,
                         filters: tuple[Filter, ...]) -> Query:  # fmt: skip
    """A rollup's count per minute, one series per value of `series` (an expression AS a name)."""
    label = series.rsplit(" AS ", 1)[1]
    return Query(
        name,
        title,
        f"""
SELECT {{bucket:minute}} AS time, {series}, uniqExactMerge({count}) / ({{bucket_s}} / 60) AS per_minute
FROM {{db}}.{rollup}
WHERE minute >= {{from}} AND minute < {{to}}{where}{{filters}}
GROUP BY time, {label}
ORDER BY time, {label}""",
        filters,
    )


# -- Journey overview -----------------------------------------------------------------------------
TOUCHPOINTS_BY_STAGE_OVER_TIME = per_minute_over_time(
    "touchpoints_by_stage_over_time",
    "Touchpoints per minute by stage",
    "touchpoints_per_minute",
    "events",
    "if(stage = '', '(none)', stage) AS journey_stage",
    "",
    (CHANNEL,),
)
TOUCHPOINTS_BY_CHANNEL_OVER_TIME = per_minute_over_time(
    "touchpoints_by_channel_over_time",
    "Touchpoints per minute by channel",
    "touchpoints_per_minute",
    "events",
    "channel AS touchpoint_channel",
    "",
    (CHANNEL,),
)

ACTIVE_JOURNEYS = Query(
    "active_journeys",
    "Active journeys",
    """
SELECT uniqMerge(customers) AS journeys, uniqExactMerge(events) AS touchpoints
FROM {db}.touchpoints_per_minute
WHERE minute >= {from} AND minute < {to}{filters}""",
    (CHANNEL,),
)

ACTIVE_CUSTOMERS = Query(
    "active_customers",
    "Active customers",
    """
SELECT uniqExact(customer_id) AS customers, uniqExactIf(journey_key, customer_id IS NULL) AS anonymous_visitors
FROM {db}.touchpoints FINAL
WHERE occurred_at >= {from} AND occurred_at < {to}{filters}""",
    (CHANNEL,),
)

SESSIONS_CHANNEL = Filter("channel", "hasAny(channels, array{values})")

NEW_SESSIONS_OVER_TIME = Query(
    "new_sessions_over_time",
    "New sessions",
    """
SELECT {bucket:started_at} AS time, count() AS new_sessions, uniqExact(journey_key) AS customers
FROM {db}.sessions FINAL
WHERE started_at >= {from} AND started_at < {to}{filters}
GROUP BY time
ORDER BY time""",
    (SESSIONS_CHANNEL,),
)

SESSION_DURATION_OVER_TIME = Query(
    "session_duration_over_time",
    "Session duration percentiles (minutes)",
    """
SELECT {bucket:started_at} AS time,
       quantileExact(0.5)(duration_ms) / 60000 AS p50,
       quantileExact(0.9)(duration_ms) / 60000 AS p90,
       quantileExact(0.99)(duration_ms) / 60000 AS p99
FROM {db}.sessions FINAL
WHERE started_at >= {from} AND started_at < {to}{filters}
GROUP BY time
ORDER BY time""",
    (SESSIONS_CHANNEL,),
)

TIME_TO_FIRST_VALUE_DISTRIBUTION = Query(
    "time_to_first_value_distribution",
    "Time to first value (customers per day bucket)",
    """
SELECT toUInt32(intDiv(first_value_ms, 86400000)) AS days, count() AS customers
FROM (
    SELECT journey_key, min(time_to_first_value_ms) AS first_value_ms
    FROM {db}.stage_transitions FINAL
    WHERE at >= {from} AND at < {to} AND time_to_first_value_ms IS NOT NULL
    GROUP BY journey_key
)
GROUP BY days
ORDER BY days""",
)


# -- Funnels ---------------------------------------------------------------------------------------
def completion_rate_over_time(friction: FrictionSettings) -> Query:
    """Completions / starts per bucket and flow (touchpoints that start and complete each flow)."""
    per_flow = "\n    UNION ALL\n".join(
        f"""    SELECT occurred_at, {sql_string(name)} AS flow, touchpoint IN {sql_list(flow.complete)} AS completes
    FROM {{db}}.touchpoints FINAL
    WHERE occurred_at >= {{from}} AND occurred_at < {{to}} AND touchpoint IN {sql_list(flow.start + flow.complete)}"""
        for name, flow in friction.flows.items()
    )
    return Query(
        "completion_rate_over_time",
        "Completion rate by flow (%: completions / starts)",
        f"""
SELECT {{bucket:occurred_at}} AS time, flow AS flow_name,
       round(100 * countIf(completes) / nullIf(countIf(NOT completes), 0), 1) AS completion_pct
FROM (
{per_flow}
)
WHERE 1{{filters}}
GROUP BY time, flow_name
ORDER BY time, flow_name""",
        (FLOW,),
    )


ABANDONMENT_BY_STEP = Query(
    "abandonment_by_step",
    "Abandonments by flow and last step reached",
    """
SELECT flow AS flow_name, if(step = '', '(before the first step)', step) AS last_step,
       uniqExactMerge(signals) AS abandonments, uniqMerge(customers) AS journeys
FROM {db}.friction_per_minute
WHERE minute >= {from} AND minute < {to} AND kind = 'abandonment'{filters}
GROUP BY flow_name, last_step
ORDER BY abandonments DESC, flow_name, last_step""",
    (FLOW,),
)

ABANDONMENTS_OVER_TIME = per_minute_over_time(
    "abandonments_over_time",
    "Abandonments per minute by flow",
    "friction_per_minute",
    "signals",
    "flow AS flow_name",
    " AND kind = 'abandonment'",
    (FLOW,),
)

# -- Friction --------------------------------------------------------------------------------------
SIGNALS_BY_KIND_OVER_TIME = per_minute_over_time(
    "signals_by_kind_over_time",
    "Friction signals per minute by kind",
    "friction_per_minute",
    "signals",
    "kind AS signal_kind",
    "",
    (KIND,),
)


def repeat_contacts(
    friction: FrictionSettings, min_contacts: str = "toUInt32OrZero(${min_contacts:sqlstring})"
) -> Query:
    """Customers who contacted support at least `min_contacts` times in the window, any channel
    (on the board: its `min_contacts` variable)."""
    return Query(
        "repeat_contacts",
        "Customers with repeated support contacts",
        f"""
SELECT journey_key AS customer, any(account_id) AS account, count() AS contacts,
       arrayStringConcat(arraySort(groupUniqArray(channel)), ', ') AS contact_channels,
       min(occurred_at) AS first_contact, max(occurred_at) AS last_contact
FROM {{db}}.touchpoints FINAL
WHERE occurred_at >= {{from}} AND occurred_at < {{to}} AND touchpoint IN {sql_list(friction.contact_touchpoints)}{{filters}}
GROUP BY customer
HAVING contacts >= {min_contacts}
ORDER BY contacts DESC, customer
LIMIT 100""",
        (ACCOUNT,),
    )


RAGE_CLICKS_BY_ELEMENT = Query(
    "rage_clicks_by_element",
    "Rage clicks by element",
    """
SELECT JSONExtractString(details, 'element') AS element, count() AS bursts, sum(count) AS clicks,
       uniqExact(journey_key) AS customers, ifNull(any(touchpoint), '') AS example_touchpoint
FROM {db}.friction_signals FINAL
WHERE occurred_at >= {from} AND occurred_at < {to} AND kind = 'rage_click' AND version = 1{filters}
GROUP BY element
ORDER BY bursts DESC, element
LIMIT 20""",
    (SIGNAL_CHANNEL, ACCOUNT),
)

SELF_SERVICE_FAILURES = Query(
    "self_service_failures",
    "Self-service failures (searches, then a contact)",
    """
SELECT {bucket:occurred_at} AS time, JSONExtractString(details, 'contact', 'touchpoint') AS contact,
       count() AS failures
FROM {db}.friction_signals FINAL
WHERE occurred_at >= {from} AND occurred_at < {to} AND kind = 'self_service_failure' AND version = 1{filters}
GROUP BY time, contact
ORDER BY time, contact""",
    (SIGNAL_CHANNEL, ACCOUNT),
)

LATEST_CRITICAL_SIGNALS = Query(
    "latest_critical_signals",
    "Latest critical signals",
    """
SELECT occurred_at, kind, journey_key AS customer, ifNull(account_id, '') AS account, ifNull(channel, '') AS signal_channel,
       multiIf(flow IS NOT NULL AND step IS NOT NULL, concat(flow, ' / ', step), flow IS NOT NULL, flow,
               ifNull(touchpoint, '')) AS place,
       count AS occurrences, details AS evidence
FROM {db}.friction_signals FINAL
WHERE occurred_at >= {from} AND occurred_at < {to} AND severity = 'critical'{filters}
ORDER BY occurred_at DESC, signal_id
LIMIT 50""",
    (SIGNAL_CHANNEL, ACCOUNT),
)

# -- CX scores -------------------------------------------------------------------------------------
# Answers per score from the hourly rollup; NPS = % promoters (9-10) - % detractors (0-6).
NPS = Query(
    "nps",
    "NPS",
    """
SELECT round(100 * (promoters - detractors) / answers, 1) AS nps, promoters, passives, detractors, answers
FROM (
    SELECT sumIf(n, score >= 9) AS promoters, sumIf(n, score BETWEEN 7 AND 8) AS passives,
           sumIf(n, score <= 6) AS detractors, sum(n) AS answers
    FROM (SELECT score, uniqExactMerge(answers) AS n FROM {db}.cx_scores_per_hour
          WHERE hour >= toStartOfHour({from}) AND hour < {to} AND kind = 'nps'{filters} GROUP BY score)
)
WHERE answers > 0""",
    (CHANNEL,),
)

CX_OVER_TIME = Query(
    "cx_over_time",
    "NPS, CSAT % and CES over time",
    """
SELECT time,
       multiIf(kind = 'nps', 'NPS', kind = 'csat', 'CSAT %', 'CES (1-7)') AS measure,
       multiIf(kind = 'nps', round(100 * (sumIf(n, score >= 9) - sumIf(n, score <= 6)) / sum(n), 1),
               kind = 'csat', round(100 * sumIf(n, score >= 4) / sum(n), 1),
               round(sum(score * n) / sum(n), 2)) AS value
FROM (
    SELECT {bucket:hour} AS time, kind, score, uniqExactMerge(answers) AS n
    FROM {db}.cx_scores_per_hour
    WHERE hour >= toStartOfHour({from}) AND hour < {to}{filters}
    GROUP BY time, kind, score
)
GROUP BY time, kind
ORDER BY time, measure""",
    (CHANNEL,),
)

CX_BY_CHANNEL = Query(
    "cx_by_channel",
    "Scores per channel",
    """
SELECT kind, channel AS answer_channel, sum(n) AS answers,
       multiIf(kind = 'nps', round(100 * (sumIf(n, score >= 9) - sumIf(n, score <= 6)) / sum(n), 1),
               kind = 'csat', round(100 * sumIf(n, score >= 4) / sum(n), 1),
               round(sum(score * n) / sum(n), 2)) AS value
FROM (
    SELECT kind, channel, score, uniqExactMerge(answers) AS n
    FROM {db}.cx_scores_per_hour
    WHERE hour >= toStartOfHour({from}) AND hour < {to}{filters}
    GROUP BY kind, channel, score
)
GROUP BY kind, answer_channel
ORDER BY kind, answer_channel""",
    (CHANNEL,),
)
