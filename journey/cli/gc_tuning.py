"""Process-wide garbage-collector setting for the long-running commands (worker, run, sink).

Python collects its young generation every 700 net allocations by default. The stages allocate
many short-lived objects per event (decoded messages, outputs, records) next to many
long-lived ones (decoded journey states, tables), so the collector kept walking the survivors:
a third of the pure core's time (docs/decisions.md). Reference counting frees almost everything;
the collector only has to find cycles, which a rarer pass finds as well.
"""

from __future__ import annotations

import gc


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect the young generation every `young_threshold` allocations (0: Python's default),
    and keep what exists at start-up (imports, settings) out of every later collection."""
    if young_threshold <= 0:
        return
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
    gc.freeze()
