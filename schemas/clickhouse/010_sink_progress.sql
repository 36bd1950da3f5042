-- Where the sink stands: per topic-partition, the next Kafka offset to insert. Written after an
-- insert returned (so after its materialized views were fed too); on assignment the sink seeks to
-- max(this, the consumer group's commit). A raw table's max(_kafka_offset) is not a safe resume
-- point: a process killed mid-insert can leave the raw part committed and a view's part not.

CREATE TABLE IF NOT EXISTS {database}.sink_progress
(
    topic String,
    partition UInt16,
    next_offset UInt64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (topic, partition);
