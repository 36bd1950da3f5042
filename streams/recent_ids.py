"""A bounded, event-time-windowed memory of event ids: the duplicate filter of both stages.

Pure and deterministic: what it forgets depends only on what it was shown, never on a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RecentIds:
    seen: dict[str, int] = field(default_factory=dict)  # event_id -> occurred_at (epoch ms)

    def check_and_add(self, event_id: str, occurred_ms: int, window_ms: int, max_ids: int) -> bool:
        """Remember the id; return True if it was already known (a duplicate)."""
        if event_id in self.seen:
            return True
        self.seen[event_id] = occurred_ms
        newest = max(self.seen.values())
        if len(self.seen) > max_ids or min(self.seen.values()) < newest - window_ms:
            kept = sorted(
                ((t, i) for i, t in self.seen.items() if t >= newest - window_ms), reverse=True
            )[:max_ids]
            self.seen = {i: t for t, i in sorted(kept)}
        return False
