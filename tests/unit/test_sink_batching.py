"""Sink batching: per-partition batches, deterministic tokens, confirm-then-commit, backpressure."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError
from hypothesis import given, settings
from hypothesis import strategies as st

from journey.sinks.batching import (
    ErasureMarker,
    RowsRejected,
    SinkBackpressure,
    SinkBuffer,
    dedup_token,
    insert_splitting,
)
from journey.sinks.sink import is_data_error


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


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 2), st.booleans()), min_size=1, max_size=60),
       st.integers(1, 7), st.booleans())  # fmt: skip
def test_an_erasure_marker_leaves_after_the_rows_before_it_and_before_those_after(
    arrivals: list[tuple[int, float, bool]], max_rows: int, flush_each_step: bool
) -> None:
    """As the sink writes them (in-flight order, each confirmed): per partition, rows and markers
    in offset order, none twice, none left."""
    buffer = SinkBuffer(max_rows=max_rows, max_wait_s=1.0)
    offsets = {0: 0, 1: 0, 2: 0}
    now, written = 0.0, []

    def write_in_flight() -> None:
        for batch in buffer.retry():
            written.append(batch)
            buffer.confirm(batch)

    for partition, step, is_marker in arrivals:
        now += step
        if is_marker:
            buffer.add_erasure("t", partition, ErasureMarker("key", "r", None, offsets[partition]), now)
        else:
            buffer.add("t", partition, offsets[partition], {}, now)
        offsets[partition] += 1
        buffer.ready(now)
        if flush_each_step:
            write_in_flight()
    buffer.ready(now, everything=True)
    write_in_flight()
    for partition in offsets:
        seen = [o for b in written if b.partition == partition
                for o in ([b.erasure.offset] if b.erasure else [r[2] for r in b.records])]  # fmt: skip
        assert seen == list(range(offsets[partition]))
    assert buffer.buffered_rows == 0 and not buffer.in_flight


def rows(offsets: list[int]) -> list:
    return [({"value": offset}, 0, offset) for offset in offsets]


def rejecting(bad: set[int], calls: list[list[int]]):
    """An insert that refuses any block holding an offset in `bad`, and records what went in."""

    def insert(block: list) -> None:
        offsets = [offset for _, _, offset in block]
        if bad & set(offsets):
            raise RowsRejected(f"value out of range at {sorted(bad & set(offsets))}")
        calls.append(offsets)

    return insert


@given(size=st.integers(1, 300), bad=st.sets(st.integers(0, 299), max_size=6))
def test_splitting_inserts_every_good_row_once_and_returns_exactly_the_bad_ones(size: int, bad: set[int]) -> None:
    bad = {b for b in bad if b < size}
    inserted: list[list[int]] = []
    rejected = insert_splitting(rows(list(range(size))), rejecting(bad, inserted))
    assert sorted(offset for (_, _, offset), _ in rejected) == sorted(bad)
    assert all("value out of range" in reason for _, reason in rejected)
    flat = [offset for block in inserted for offset in block]
    assert flat == [offset for offset in range(size) if offset not in bad]  # once each, in offset order


def test_a_clean_batch_is_one_insert_and_a_split_is_deterministic() -> None:
    calls: list[list[int]] = []
    assert insert_splitting(rows([0, 1, 2, 3]), rejecting(set(), calls)) == []
    assert calls == [[0, 1, 2, 3]]
    first: list[list[int]] = []
    second: list[list[int]] = []
    insert_splitting(rows(list(range(10))), rejecting({3}, first))
    insert_splitting(rows(list(range(10))), rejecting({3}, second))
    assert first == second == [[0, 1], [2], [4], [5, 6, 7, 8, 9]]  # same blocks, same dedup tokens on a retry
    assert dedup_token("t", rows([5, 6, 7, 8, 9])) == "t/0/5-9"


def test_an_unavailable_clickhouse_is_not_a_rejection() -> None:
    def down(block: list) -> None:
        raise ConnectionError("connection refused")

    with pytest.raises(ConnectionError):
        insert_splitting(rows([0, 1, 2]), down)


@pytest.mark.parametrize(
    ("error", "data"),
    [
        (DataError("Unable to create native array for column `score`"), True),
        (ValueError("badly formed hexadecimal UUID string"), True),
        (DatabaseError("Code: 53. DB::Exception: Type mismatch (TYPE_MISMATCH)"), True),
        (DatabaseError("Code: 60. DB::Exception: Table journey.touchpoints does not exist. (UNKNOWN_TABLE)"), False),
        (DatabaseError("Code: 241. DB::Exception: Memory limit exceeded (MEMORY_LIMIT_EXCEEDED)"), False),
        (OperationalError("HTTPConnectionPool: connection refused"), False),
        (RuntimeError("something else"), False),
    ],
)
def test_data_errors_are_told_from_unavailability(error: Exception, data: bool) -> None:
    assert is_data_error(error) is data
