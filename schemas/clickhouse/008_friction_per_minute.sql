-- Rollups for boards and alerts. Aggregating states of uniqExact(id) keep counts exact when the
-- sink re-sends a block (a replayed row adds the same id to the set). Rows of an
-- AggregatingMergeTree collapse only when parts merge: queries aggregate again (…Merge()).

CREATE TABLE IF NOT EXISTS {database}.friction_per_minute
(
    minute DateTime('UTC'),
    kind LowCardinality(String),
    flow LowCardinality(String),
    step LowCardinality(String),
    severity LowCardinality(String),
    signals AggregateFunction(uniqExact, UUID),
    customers AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, kind, flow, step, severity)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.friction_per_minute_mv TO {database}.friction_per_minute AS
SELECT
    toStartOfMinute(occurred_at) AS minute,
    kind,
    ifNull(flow, '') AS flow,
    ifNull(step, '') AS step,
    severity,
    uniqExactState(signal_id) AS signals,
    uniqState(journey_key) AS customers
FROM {database}.friction_signals
WHERE version = 1
GROUP BY minute, kind, flow, step, severity;
