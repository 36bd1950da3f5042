"""One customer's whole journey, across channels and their linked anonymous ids: what a support
agent opens when a repeat contact comes in (`journey customer ID`, /customers/{id}, the Customer
journey board). `{customer}` is the customer's journey key as a SQL string (the pseudonym when
customer ids are hashed); the rest of the placeholders are those of schemas/queries.py."""

from __future__ import annotations

from journey.schemas.queries import Query, sql_string

TIMELINE_LIMIT = 2000  # the newest touchpoints shown; older ones are in the sessions and stages

KEYS = """(SELECT {customer} AS journey_key
           UNION ALL SELECT concat('anon:', anonymous_id) FROM {db}.identity_links FINAL
           WHERE kind = 'link' AND customer_id = {customer})"""

LINKED_IDS = Query(
    "customer_ids",
    "Linked anonymous ids",
    """
SELECT anonymous_id, kind, linked_at, if(kind = 'conflict', ifNull(claimed_customer_id, ''), '') AS claimed_by
FROM {db}.identity_links FINAL
WHERE customer_id = {customer} OR claimed_customer_id = {customer}
ORDER BY linked_at, anonymous_id""",
)

TIMELINE = Query(
    "customer_timeline",
    "Timeline",
    f"""
SELECT occurred_at, channel, touchpoint, ifNull(flow, '') AS flow, ifNull(step, '') AS step, ifNull(stage, '') AS stage,
       score, late, journey_key, toString(session_id) AS session_id
FROM (SELECT * FROM {{db}}.touchpoints FINAL WHERE journey_key IN {KEYS}
      ORDER BY occurred_at DESC, event_id DESC LIMIT {TIMELINE_LIMIT})
ORDER BY occurred_at, touchpoint""",
)

SESSIONS = Query(
    "customer_sessions",
    "Sessions",
    f"""
SELECT started_at, ended_at, round(duration_ms / 60000, 1) AS minutes, event_count AS events,
       arrayStringConcat(channels, ', ') AS channels, arrayStringConcat(path, ' → ') AS path, close_reason,
       friction_score, journey_key
FROM {{db}}.sessions FINAL
WHERE journey_key IN {KEYS}
ORDER BY started_at""",
)

STAGE_CHANGES = Query(
    "customer_stages",
    "Stage changes",
    f"""
SELECT at, ifNull(from_stage, '(new)') AS from_stage, to_stage,
       round(time_in_previous_ms / 3600000, 1) AS hours_in_previous, journey_key
FROM {{db}}.stage_transitions FINAL
WHERE journey_key IN {KEYS}
ORDER BY at, to_stage""",
)

SIGNALS = Query(
    "customer_signals",
    "Friction signals, with their evidence",
    f"""
SELECT occurred_at, kind, severity, version, ifNull(flow, '') AS flow, ifNull(step, '') AS step,
       ifNull(touchpoint, '') AS touchpoint, count, details
FROM {{db}}.friction_signals FINAL
WHERE journey_key IN {KEYS}
ORDER BY occurred_at, kind""",
)

SURVEYS = Query(
    "customer_surveys",
    "Survey answers",
    f"""
SELECT occurred_at, replaceOne(touchpoint, 'survey.', '') AS kind, score, channel
FROM {{db}}.touchpoints FINAL
WHERE journey_key IN {KEYS} AND touchpoint IN ('survey.nps', 'survey.csat', 'survey.ces') AND score IS NOT NULL
ORDER BY occurred_at""",
)

CUSTOMER_QUERIES = (LINKED_IDS, STAGE_CHANGES, SESSIONS, SIGNALS, SURVEYS, TIMELINE)


def for_customer(sql: str, journey_key: str) -> str:
    """The query for one customer (its journey key, as stored)."""
    return sql.replace("{customer}", sql_string(journey_key))


def for_grafana(sql: str) -> str:
    """The query for the board's `customer` variable (a text box)."""
    return sql.replace("{customer}", "${customer:singlequote}")
