-- Survey answers derived from touchpoints (NPS 0-10, CSAT 1-5, CES 1-7), with the categories the
-- CX formulas need. Fed by a materialized view: it fires on inserts into touchpoints.

CREATE TABLE IF NOT EXISTS {database}.survey_responses
(
    event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    journey_key String,
    customer_id Nullable(String),
    account_id Nullable(String),
    channel LowCardinality(String),
    kind LowCardinality(String),
    score Int16,
    category LowCardinality(String),
    satisfied Bool,
    low_effort Bool
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (kind, toDate(occurred_at), event_id)
TTL toDateTime(occurred_at) + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.survey_responses_mv TO {database}.survey_responses AS
SELECT
    event_id,
    occurred_at,
    journey_key,
    customer_id,
    account_id,
    channel,
    replaceOne(touchpoint, 'survey.', '') AS kind,
    assumeNotNull(score) AS score,
    multiIf(kind = 'nps' AND score >= 9, 'promoter', kind = 'nps' AND score >= 7, 'passive', kind = 'nps', 'detractor',
            kind = 'csat' AND score >= 4, 'satisfied', kind = 'csat', 'unsatisfied',
            kind = 'ces' AND score >= 5, 'low_effort', 'high_effort') AS category,
    toBool(kind = 'csat' AND score >= 4) AS satisfied,
    toBool(kind = 'ces' AND score >= 5) AS low_effort
FROM {database}.touchpoints
WHERE touchpoint IN ('survey.nps', 'survey.csat', 'survey.ces') AND score IS NOT NULL;
