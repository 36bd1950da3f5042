"""Where one partition of a state table keeps its values on this worker, and how far into the
table's changelog topic they go. No Kafka here: streams/state_table.py restores and writes.

- `memory://`: a dict; every assignment restores the partition from the changelog's start.
- `rocksdb://`: a RocksDB directory per partition; the next changelog offset is written in the
  same write batch as the values it covers, so a restart restores only the changelog's tail.
  All of a process's stores share one memory budget (`worker.rocksdb_memory_mb`): memtables and
  block cache. RocksDB's defaults give each store its own 64 MiB memtables (two of them) and
  cache: with 12 stores (6 partitions × 2 tables) a soak's RSS kept climbing towards 2 GiB.

Every value written here was acknowledged in the changelog first, so a store is never ahead of
its changelog; it may be behind (a crash between the two), which the restore catches up.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import orjson

# Stored next to the values; values' keys are journey or partition keys (no leading 0xFF byte).
CHANGELOG_OFFSET_KEY = b"\xffchangelog-next-offset"


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.changelog_offset = 0  # the next changelog offset not applied
        self.live_bytes = 0  # keys and values held

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.values))

    def write(self, items: Iterable[tuple[bytes, bytes | None]], changelog_offset: int) -> None:
        """Values, or None: the key is deleted (a changelog tombstone)."""
        for key, value in items:
            old = self.values.pop(key, None)
            if old is not None:
                self.live_bytes -= len(key) + len(old)
            if value is not None:
                self.values[key] = value
                self.live_bytes += len(key) + len(value)
        self.changelog_offset = changelog_offset

    def reset(self) -> None:
        self.values.clear()
        self.changelog_offset = self.live_bytes = 0

    def close(self) -> None:
        self.values.clear()


@functools.cache
def _shared_memory(budget_mb: int):
    """One block cache and one memtable budget for every store of the process (half each); the
    memtables are charged to the cache, so the whole stays within the budget."""
    from rocksdict import Cache, WriteBufferManager

    cache = Cache(budget_mb << 20)
    return cache, WriteBufferManager.new_write_buffer_manager_with_cache((budget_mb // 2) << 20, False, cache)


def _rocks_options(budget_mb: int):
    from rocksdict import BlockBasedOptions, Options

    cache, memtables = _shared_memory(budget_mb)
    options = Options(raw_mode=True)
    options.set_write_buffer_size(min(8, max(budget_mb // 16, 1)) << 20)  # flushed often: small, many stores
    options.set_max_write_buffer_number(2)
    options.set_write_buffer_manager(memtables)
    table = BlockBasedOptions()
    table.set_block_cache(cache)
    options.set_block_based_table_factory(table)
    return options


class RocksStore:
    def __init__(self, path: Path, memory_mb: int) -> None:
        from rocksdict import Rdict

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._options = _rocks_options(memory_mb)
        self._db = Rdict(str(path), self._options)
        stored = self._db.get(CHANGELOG_OFFSET_KEY)
        self.changelog_offset = 0 if stored is None else orjson.loads(stored)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def keys(self) -> Iterator[bytes]:
        keys = cast(Iterator[bytes], self._db.keys())  # only bytes keys are ever put
        return (key for key in keys if key != CHANGELOG_OFFSET_KEY)

    @property
    def live_bytes(self) -> int:
        """RocksDB's estimate of the live data (files) plus what the memtable holds."""
        return sum(self._db.property_int_value(name) or 0
                   for name in ("rocksdb.estimate-live-data-size", "rocksdb.cur-size-active-mem-table"))  # fmt: skip

    def write(self, items: Iterable[tuple[bytes, bytes | None]], changelog_offset: int) -> None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, value in items:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(CHANGELOG_OFFSET_KEY, orjson.dumps(changelog_offset))
        self._db.write(batch)
        self.changelog_offset = changelog_offset

    def reset(self) -> None:
        """Forget everything (the changelog was recreated, or trimmed past this copy)."""
        from rocksdict import Rdict

        self._db.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self._db = Rdict(str(self.path), self._options)
        self.changelog_offset = 0

    def close(self) -> None:
        self._db.close()


PartitionStore = MemoryStore | RocksStore


def open_store(kind: str, directory: Path, changelog_topic: str, partition: int, memory_mb: int) -> PartitionStore:
    """`kind` is the `worker.store` setting: "memory://" or "rocksdb://"."""
    if kind.startswith("memory://"):
        return MemoryStore()
    return RocksStore(directory / changelog_topic / str(partition), memory_mb)
