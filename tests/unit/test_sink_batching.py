"""Sink batching: per-partition batches, deterministic tokens, confirm-then-commit, backpressure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinks.batching import SinkBackpressure, SinkBuffer


def test_batches_are_per_topic_partition_and_cut_by_size_or_age() -> None:
    buffer = SinkBuffer(max_rows=3, max_wait_s=1.0)
    for offset in range(3):
        buffer.add("journey.sessions", 0, offset, {"n": offset}, now=0.0)
    buffer.add("journey.sessions", 1, 10, {"n": 10}, now=0.0)
    [full] = buffer.ready(now=0.1)
    assert (full.partition, full.first_offset, full.last_offset) == (0, 0, 2)
    assert full.token == "journey.sessions/0/0-2"
    assert buffer.ready(now=0.5) == []
    [aged] = buffer.ready(now=1.0)
    assert (aged.partition, aged.token) == (1, "journey.sessions/1/10-10")


def test_offsets_are_committed_only_for_confirmed_batches_and_retries_keep_their_token() -> None:
    buffer = SinkBuffer(max_rows=2)
    for offset in range(4):
        buffer.add("t", 0, offset, {}, now=0.0)
        buffer.ready(now=0.0)
    first, second = buffer.retry()
    assert [b.token for b in buffer.retry()] == ["t/0/0-1", "t/0/2-3"]  # the insert failed: same tokens again
    assert buffer.confirm(first) == 2
    assert [b.token for b in buffer.retry()] == ["t/0/2-3"]
    assert buffer.confirm(second) == 4 and buffer.buffered_rows == 0


def test_unconfirmed_rows_beyond_the_limit_raise_backpressure() -> None:
    buffer = SinkBuffer(max_rows=2, max_buffered=4)
    for offset in range(4):
        buffer.add("t", 0, offset, {}, now=0.0)
    buffer.ready(now=0.0)  # in flight, ClickHouse down: nothing confirmed
    with pytest.raises(SinkBackpressure, match="4 rows wait"):
        buffer.add("t", 0, 4, {}, now=0.0)
    for batch in buffer.retry():
        buffer.confirm(batch)
    buffer.add("t", 0, 4, {}, now=0.0)  # room again


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 5)), min_size=1, max_size=60), st.integers(1, 7))
def test_every_record_leaves_exactly_once_in_offset_order(arrivals: list[tuple[int, float]], max_rows: int) -> None:
    buffer = SinkBuffer(max_rows=max_rows, max_wait_s=1.0)
    offsets = {0: 0, 1: 0, 2: 0}
    now, out = 0.0, []
    for partition, step in arrivals:
        now += step
        buffer.add("t", partition, offsets[partition], {}, now)
        offsets[partition] += 1
        out.extend(buffer.ready(now))
    out.extend(buffer.ready(now, everything=True))
    for partition in offsets:
        seen = [r[2] for b in out if b.partition == partition for r in b.records]
        assert seen == list(range(offsets[partition]))
