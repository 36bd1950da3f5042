-- Rollups for boards and alerts. Aggregating states of uniqExact(id) keep counts exact when the
-- sink re-sends a block (a replayed row adds the same id to the set). Rows of an
-- AggregatingMergeTree collapse only when parts merge: queries aggregate again (…Merge()).

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
