-- Rollups for boards and alerts. Aggregating states of uniqExact(id) keep counts exact when the
-- sink re-sends a block (a replayed row adds the same id to the set). Rows of an
-- AggregatingMergeTree collapse only when parts merge: queries aggregate again (…Merge()).

CREATE TABLE IF NOT EXISTS {database}.touchpoints_per_minute
(
    minute DateTime('UTC'),
    stage LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    events AggregateFunction(uniqExact, UUID),
    customers AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, stage, channel, touchpoint)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.touchpoints_per_minute_mv TO {database}.touchpoints_per_minute AS
SELECT
    toStartOfMinute(occurred_at) AS minute,
    ifNull(stage, '') AS stage,
    channel,
    touchpoint,
    uniqExactState(event_id) AS events,
    uniqState(journey_key) AS customers
FROM {database}.touchpoints
GROUP BY minute, stage, channel, touchpoint;
