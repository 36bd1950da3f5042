"""A partition's local store: values and deletions (changelog tombstones) in write order, and the
changelog offset they reach, alike in memory and in RocksDB (kept across a reopen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from journey.streams.state_store import open_store


@pytest.mark.parametrize("kind", ["memory://", "rocksdb://"])
def test_a_tombstone_deletes_the_key_and_a_later_value_brings_it_back(kind: str, tmp_path: Path) -> None:
    store = open_store(kind, tmp_path, "changelog", 0, 16)
    store.write([(b"a", b"1"), (b"b", b"2")], 2)
    store.write([(b"a", None), (b"c", b"3")], 4)
    assert (store.get(b"a"), store.get(b"b"), sorted(store.keys()), store.changelog_offset) == (
        None,
        b"2",
        [b"b", b"c"],
        4,
    )
    store.write([(b"b", None), (b"b", b"4"), (b"c", None)], 7)  # in order: deleted, then written again
    assert (store.get(b"b"), store.get(b"c"), sorted(store.keys())) == (b"4", None, [b"b"])
    if kind == "memory://":
        assert store.live_bytes == len(b"b") + len(b"4")
    store.close()
    if kind == "rocksdb://":
        reopened = open_store(kind, tmp_path, "changelog", 0, 16)
        assert (sorted(reopened.keys()), reopened.changelog_offset) == ([b"b"], 7)
        reopened.close()
