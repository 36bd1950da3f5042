"""Where one partition of a state table keeps its values on this worker, and how far into the
table's changelog topic they go. No Kafka here: streams/state_table.py restores and writes.

- `memory://`: a dict; every assignment restores the partition from the changelog's start.
- `rocksdb://`: a RocksDB directory per partition; the next changelog offset is written in the
  same write batch as the values it covers, so a restart restores only the changelog's tail.

Every value written here was acknowledged in the changelog first, so a store is never ahead of
its changelog; it may be behind (a crash between the two), which the restore catches up.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

# Stored next to the values; values' keys are journey or partition keys (no leading 0xFF byte).
CHANGELOG_OFFSET_KEY = b"\xffchangelog-next-offset"


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.changelog_offset = 0  # the next changelog offset not applied

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.values))

    def write(self, items: Iterable[tuple[bytes, bytes]], changelog_offset: int) -> None:
        self.values.update(items)
        self.changelog_offset = changelog_offset

    def reset(self) -> None:
        self.values.clear()
        self.changelog_offset = 0

    def close(self) -> None:
        self.values.clear()


class RocksStore:
    def __init__(self, path: Path) -> None:
        from rocksdict import Options, Rdict

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._options = Options(raw_mode=True)
        self._db = Rdict(str(path), self._options)
        stored = self._db.get(CHANGELOG_OFFSET_KEY)
        self.changelog_offset = 0 if stored is None else orjson.loads(stored)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def keys(self) -> Iterator[bytes]:
        return (key for key in self._db.keys() if key != CHANGELOG_OFFSET_KEY)

    def write(self, items: Iterable[tuple[bytes, bytes]], changelog_offset: int) -> None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, value in items:
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


def open_store(kind: str, directory: Path, changelog_topic: str, partition: int) -> PartitionStore:
    """`kind` is the `worker.store` setting: "memory://" or "rocksdb://"."""
    if kind.startswith("memory://"):
        return MemoryStore()
    return RocksStore(directory / changelog_topic / str(partition))
