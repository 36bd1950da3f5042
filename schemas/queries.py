"""The read side: every question users ask of ClickHouse, written once.

`journey report`, the worker's report page and the Grafana boards render these same definitions.
A query's SQL names the database `{db}` and the time window `{from}` / `{to}` (ClickHouse
DateTime expressions, end exclusive); a time series also `{bucket:<column>}` (the column's time
bucket) and `{bucket_s}` (its width in seconds); `{filters}` is where the board's template
variables narrow it (`AND …`). `render` fills them in for the report (literal times, no filters),
`grafana` with the ClickHouse plugin's macros (`$__fromTime`, `$__toTime`, `$__timeInterval(col)`,
`$__interval_s`) and the variables (`${channel:singlequote}`). Formulas follow shared/DOMAIN.md:
NPS = % promoters (9–10) − % detractors (0–6); CSAT % = share of 4–5; CES = mean (7 = easy) and
share of low-effort (5–7) answers; churn rate = customers lost / customers at the window's start.

Raw tables are read with FINAL (their Replacing engines may still hold re-sent rows), rollups
through their uniqExact states: both stay exact however often the sink re-inserted a batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from journey.config import FlowSettings, Settings

# Stages in which a journey is a customer (the base of the churn rate).
CUSTOMER_STAGES = ("onboarding", "active", "renewal")


@dataclass(frozen=True)
class Filter:
    """A board's template variable narrowing a query: `condition` is SQL in which `{values}`
    stands for the selected values as a tuple literal, e.g. `channel IN {values}`."""

    variable: str
    condition: str


BUCKET = re.compile(r"\{bucket:(\w+)\}")


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    sql: str
    filters: tuple[Filter, ...] = ()

    def render(self, database: str, start: str, end: str, bucket_s: int = 60) -> str:
        """For the report: literal window and bucket width, every variable at "all"."""
        bucketed = BUCKET.sub(lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL {bucket_s} second)", self.sql)
        return self._fill(bucketed, database, start, end, str(bucket_s), "")

    def grafana(self, database: str) -> str:
        """For a Grafana panel of the ClickHouse plugin: its macros and the board's variables."""
        conditions = "".join(
            " AND " + f.condition.replace("{values}", f"(${{{f.variable}:singlequote}})") for f in self.filters
        )
        bucketed = BUCKET.sub(lambda m: f"$__timeInterval({m[1]})", self.sql)
        return self._fill(bucketed, database, "$__fromTime", "$__toTime", "$__interval_s", conditions)

    @staticmethod
    def _fill(sql: str, database: str, start: str, end: str, bucket_s: str, filters: str) -> str:
        for token, value in (("{db}", database), ("{from}", start), ("{to}", end), ("{bucket_s}", bucket_s),
                             ("{filters}", filters)):  # fmt: skip
            sql = sql.replace(token, value)
        return sql


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_list(items: list[str] | tuple[str, ...]) -> str:
    """A ClickHouse tuple literal of strings: ('a', 'b')."""
    return "(" + ", ".join(sql_string(item) for item in items) + ")"


def literal_time(moment: datetime) -> str:
    return f"toDateTime64('{moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}', 3, 'UTC')"


VOLUME_BY_STAGE = Query(
    "volume_by_stage",
    "Touchpoints by stage",
    """
SELECT if(stage = '', '(none)', stage) AS stage, uniqExactMerge(events) AS touchpoints, uniqMerge(customers) AS journeys
FROM {db}.touchpoints_per_minute
WHERE minute >= {from} AND minute < {to}
GROUP BY stage
ORDER BY touchpoints DESC, stage""",
)

VOLUME_BY_CHANNEL = Query(
    "volume_by_channel",
    "Touchpoints by channel",
    """
SELECT channel, uniqExactMerge(events) AS touchpoints, uniqMerge(customers) AS journeys
FROM {db}.touchpoints_per_minute
WHERE minute >= {from} AND minute < {to}
GROUP BY channel
ORDER BY touchpoints DESC, channel""",
)

SESSIONS = Query(
    "sessions",
    "Sessions",
    """
SELECT count() AS sessions,
       uniqExact(journey_key) AS customers,
       round(avg(event_count), 1) AS events_per_session,
       round(quantileExact(0.5)(duration_ms) / 60000, 1) AS p50_minutes,
       round(quantileExact(0.9)(duration_ms) / 60000, 1) AS p90_minutes,
       round(countIf(length(channels) > 1) / count() * 100, 1) AS multichannel_pct,
       round(avg(friction_score), 2) AS avg_friction_score
FROM {db}.sessions FINAL
WHERE started_at >= {from} AND started_at < {to}""",
)

FRICTION_BY_KIND = Query(
    "friction_by_kind",
    "Friction signals by kind",
    """
SELECT kind,
       uniqExactMerge(signals) AS total,
       uniqExactMergeIf(signals, severity = 'critical') AS critical,
       uniqMerge(customers) AS journeys
FROM {db}.friction_per_minute
WHERE minute >= {from} AND minute < {to}
GROUP BY kind
ORDER BY total DESC, kind""",
)

TOP_FRICTION_PLACES = Query(
    "top_friction_places",
    "Where friction happens (top 10)",
    """
SELECT kind,
       multiIf(flow IS NOT NULL AND step IS NOT NULL, concat(flow, ' / ', step), flow IS NOT NULL, flow,
               ifNull(touchpoint, '')) AS place,
       ifNull(channel, '') AS channel,
       count() AS signals,
       uniqExact(journey_key) AS customers
FROM {db}.friction_signals FINAL
WHERE occurred_at >= {from} AND occurred_at < {to} AND version = 1
GROUP BY kind, place, channel
ORDER BY signals DESC, kind, place, channel
LIMIT 10""",
)

CX_SCORES = Query(
    "cx_scores",
    "NPS, CSAT, CES",
    """
SELECT kind,
       sum(n) AS answers,
       multiIf(kind = 'nps', round(100 * (sumIf(n, score >= 9) - sumIf(n, score <= 6)) / sum(n), 1),
               kind = 'csat', round(100 * sumIf(n, score >= 4) / sum(n), 1),
               round(sum(score * n) / sum(n), 2)) AS value,
       multiIf(kind = 'nps', 'NPS (-100..100)', kind = 'csat', 'CSAT % (4-5)', 'CES mean (1-7, 7 = easy)') AS measure,
       multiIf(kind = 'nps', round(100 * sumIf(n, score >= 9) / sum(n), 1),
               kind = 'csat', round(100 * sumIf(n, score <= 2) / sum(n), 1),
               round(100 * sumIf(n, score >= 5) / sum(n), 1)) AS share_pct,
       multiIf(kind = 'nps', '% promoters', kind = 'csat', '% unsatisfied (1-2)', '% low effort (5-7)') AS share
FROM (
    SELECT kind, score, uniqExactMerge(answers) AS n
    FROM {db}.cx_scores_per_hour
    WHERE hour >= toStartOfHour({from}) AND hour < {to}
    GROUP BY kind, score
)
GROUP BY kind
ORDER BY kind""",
)

TIME_TO_FIRST_VALUE = Query(
    "time_to_first_value",
    "Time to first value (signup to activation)",
    """
SELECT count() AS customers,
       round(quantileExact(0.5)(first_value_ms) / 3600000, 1) AS p50_hours,
       round(quantileExact(0.9)(first_value_ms) / 3600000, 1) AS p90_hours,
       round(avg(first_value_ms) / 3600000, 1) AS mean_hours
FROM (
    -- every transition after activation carries the figure again: one per customer
    SELECT journey_key, min(time_to_first_value_ms) AS first_value_ms
    FROM {db}.stage_transitions FINAL
    WHERE at >= {from} AND at < {to} AND time_to_first_value_ms IS NOT NULL
    GROUP BY journey_key
)""",
)

STAGE_TRANSITIONS = Query(
    "stage_transitions",
    "Stage transitions",
    """
SELECT ifNull(from_stage, '(new)') AS from_stage, to_stage, count() AS transitions,
       round(quantileExact(0.5)(time_in_previous_ms) / 3600000, 1) AS p50_hours_in_previous
FROM {db}.stage_transitions FINAL
WHERE at >= {from} AND at < {to}
GROUP BY from_stage, to_stage
ORDER BY transitions DESC, from_stage, to_stage""",
)

# A person: a customer together with the anonymous journeys linked to them (identity_links).
LINKS = """(SELECT anonymous_id, any(customer_id) AS customer FROM {db}.identity_links FINAL
            WHERE kind = 'link' GROUP BY anonymous_id)"""


def person_of(alias: str) -> str:
    """A row's person: the customer an anonymous journey is linked to, else its journey key."""
    return f"if(startsWith({alias}.journey_key, 'anon:') AND l.customer != '', l.customer, {alias}.journey_key)"


def join_links(alias: str) -> str:
    return f"LEFT JOIN {LINKS} AS l ON {alias}.journey_key = concat('anon:', l.anonymous_id)"


def churn_sql(segments_cte: str = "") -> str:
    """Churn over a window that fits short windows too: the base is everyone who was a customer
    during it (a customer at its start, or became one in it: entered onboarding, active or
    renewal), churned = those of them whose journey reached churn in it. Split by whether they
    had a critical friction signal in the window (before churning): the cost of a bad experience,
    as a lift. `segments_cte`: a `segments` CTE (person, segment) to break it down by."""
    by = "g.segment AS segment, " if segments_cte else ""
    join = "JOIN segments AS g ON g.person = c.person " if segments_cte else ""
    group = "GROUP BY segment ORDER BY segment" if segments_cte else ""
    return f"""
WITH {segments_cte}people AS (
    SELECT {person_of("s")} AS person,
           minIf(s.at, s.to_stage IN {sql_list(CUSTOMER_STAGES)}) AS became_customer,
           minIf(s.at, s.to_stage = 'churn' AND s.at < {{from}}) AS churned_before,
           minIf(s.at, s.to_stage = 'churn' AND s.at >= {{from}} AND s.at < {{to}}) AS churned_at,
           countIf(s.to_stage IN {sql_list(CUSTOMER_STAGES)}) > 0 AS was_customer,
           countIf(s.to_stage = 'churn' AND s.at < {{from}}) > 0 AS gone_before,
           countIf(s.to_stage = 'churn' AND s.at >= {{from}} AND s.at < {{to}}) > 0 AS churned
    FROM {{db}}.stage_transitions AS s FINAL {join_links("s")}
    WHERE s.at < {{to}}
    GROUP BY person
),
critical AS (
    SELECT {person_of("f")} AS person, min(f.occurred_at) AS first_critical
    FROM {{db}}.friction_signals AS f FINAL {join_links("f")}
    WHERE f.severity = 'critical' AND f.version = 1 AND f.occurred_at >= {{from}} AND f.occurred_at < {{to}}
    GROUP BY person
),
customers AS (
    SELECT p.person AS person, p.became_customer < {{from}} AS at_start, p.churned AS lost,
           c.person != '' AND (NOT p.churned OR c.first_critical <= p.churned_at) AS hurt
    FROM people AS p LEFT JOIN critical AS c ON c.person = p.person
    WHERE p.was_customer AND p.became_customer < {{to}} AND NOT (p.gone_before AND p.churned_before >= p.became_customer)
)
SELECT {by}countIf(at_start) AS customers_at_start, countIf(NOT at_start) AS new_customers,
       countIf(lost) AS churned, if(count() = 0, NULL, round(100 * churned / count(), 2)) AS churn_rate_pct,
       countIf(hurt) AS with_critical_friction, countIf(hurt AND lost) AS churned_with,
       if(with_critical_friction = 0, NULL, round(100 * churned_with / with_critical_friction, 2)) AS churn_with_pct,
       countIf(NOT hurt) AS without_critical_friction, countIf(NOT hurt AND lost) AS churned_without,
       if(without_critical_friction = 0, NULL, round(100 * churned_without / without_critical_friction, 2)) AS churn_without_pct,
       if(churn_without_pct > 0, round(churn_with_pct / churn_without_pct, 2), NULL) AS churn_lift
FROM customers AS c {join}{group}"""


CHURN = Query("churn", "Churn (customers during the window; with and without critical friction)", churn_sql())

DATA_RANGE = Query(
    "data_range",
    "Event time covered",
    """
SELECT min(minute) AS first_minute, max(minute) AS last_minute
FROM (SELECT minute FROM {db}.touchpoints_per_minute UNION ALL SELECT minute FROM {db}.friction_per_minute)""",
)


def funnel_query(flow_name: str, flow: FlowSettings) -> Query:
    """A strict funnel: a person counts at a step when they reached that step and every earlier one
    (in any order) within the window. Steps: started, the flow's steps (an event of the flow with
    that `step`, the start and completion events included), completed; with the share
    of starters still there and the drop-off from the step before (%)."""
    funnel = ["started", *flow.steps, "completed"]
    return Query(
        f"funnel_{flow_name}",
        f"Funnel: {flow_name}",
        f"""
SELECT position, step, journeys,
       round(100 * journeys / nullIf(first_value(journeys) OVER (ORDER BY position), 0), 1) AS of_started_pct,
       if(position = 1, 0, round(100 - 100 * journeys / nullIf(lagInFrame(journeys) OVER (ORDER BY position
          ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), 0), 1)) AS drop_off_pct
FROM (
WITH {sql_list(funnel).replace("(", "[").replace(")", "]")} AS funnel
SELECT step_index AS position, funnel[step_index] AS step,
       countIf(hasAll(reached, arraySlice(funnel, 1, step_index))) AS journeys
FROM (
    -- one person across an identify in the middle of the flow: an anonymous id linked to a
    -- customer counts as that customer
    SELECT coalesce(t.customer_id, nullIf(l.linked_customer, ''), t.journey_key) AS person,
           arrayConcat(groupUniqArrayIf('started', t.touchpoint IN {sql_list(flow.start)}),
                       groupUniqArrayIf('completed', t.touchpoint IN {sql_list(flow.complete)}),
                       groupUniqArrayIf(assumeNotNull(t.step), t.flow = {sql_string(flow_name)} AND t.step IS NOT NULL)) AS reached
    FROM {{db}}.touchpoints AS t FINAL
    LEFT JOIN (SELECT anonymous_id, any(customer_id) AS linked_customer FROM {{db}}.identity_links FINAL
               WHERE kind = 'link' GROUP BY anonymous_id) AS l ON t.anonymous_id = l.anonymous_id
    WHERE t.occurred_at >= {{from}} AND t.occurred_at < {{to}}
      AND (t.touchpoint IN {sql_list(flow.start + flow.complete)} OR (t.flow = {sql_string(flow_name)} AND t.step IS NOT NULL))
    GROUP BY person
)
ARRAY JOIN arrayEnumerate(funnel) AS step_index
GROUP BY position, step
)
ORDER BY position""",
    )


def report_queries(settings: Settings) -> list[Query]:
    """The report's sections, in order."""
    funnels = [funnel_query(name, flow) for name, flow in settings.friction.flows.items()]
    return [VOLUME_BY_STAGE, VOLUME_BY_CHANNEL, SESSIONS, STAGE_TRANSITIONS, *funnels, FRICTION_BY_KIND,
            TOP_FRICTION_PLACES, CX_SCORES, TIME_TO_FIRST_VALUE, CHURN]  # fmt: skip


def markdown(settings: Settings) -> str:
    """docs/queries.md: every report query, as run (`python -m journey.schemas.queries > docs/queries.md`)."""
    from journey.schemas.customer_queries import CUSTOMER_QUERIES  # they build on this module
    from journey.schemas.map_queries import map_queries
    from journey.schemas.path_queries import path_queries

    parts = [MARKDOWN_HEADER]
    for query in [*report_queries(settings), *map_queries(settings).all(), *path_queries(settings), *CUSTOMER_QUERIES]:
        parts.append(f"## {query.title} (`{query.name}`)\n\n```sql{query.sql}\n```\n")
    return "\n".join(parts)


MARKDOWN_HEADER = """# Queries for users

Generated from `schemas/queries.py`, the one definition that `journey report`, `/report.json`,
the Grafana boards and report.html render: `python -m journey.schemas.queries > docs/queries.md` (a test
checks this file is current). `{db}` is the database (default `journey`); `{from}` / `{to}` the
window as ClickHouse DateTime expressions, end exclusive, e.g.
`toDateTime64('2026-11-02 00:00:00.000', 3, 'UTC')`. Formulas (shared/DOMAIN.md): NPS = %
promoters (9-10) - % detractors (0-6), -100..100; CSAT % = share of 4-5 answers; CES = mean on 1-7
(7 = easy) and share of low-effort (5-7) answers; churn rate = customers lost in the window /
customers (onboarding, active, renewal) at its start. Raw tables are read with FINAL, rollups
through their `...Merge` states. Funnels come from `[friction.flows]` (default flows below).
The journey map's queries (schemas/map_queries.py) follow, for the default segment
(`[segments]`; `journey map --segment NAME` renders the same SQL with another segment expression),
then the paths into friction and the stage flow (schemas/path_queries.py) and one customer's
journey (schemas/customer_queries.py; `{customer}` is the customer's journey key).
"""


if __name__ == "__main__":
    print(markdown(Settings()), end="")
