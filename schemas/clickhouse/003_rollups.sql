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

-- Answers per score (not a score sum): a replayed answer joins its set again instead of adding to a
-- sum, so NPS, CSAT % and mean CES stay exact: mean = sum(score * answers) / sum(answers).
CREATE TABLE IF NOT EXISTS {database}.cx_scores_per_hour
(
    hour DateTime('UTC'),
    kind LowCardinality(String),
    channel LowCardinality(String),
    score Int16,
    answers AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, kind, channel, score)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.cx_scores_per_hour_mv TO {database}.cx_scores_per_hour AS
SELECT
    toStartOfHour(occurred_at) AS hour,
    kind,
    channel,
    score,
    uniqExactState(event_id) AS answers
FROM {database}.survey_responses
GROUP BY hour, kind, channel, score;
