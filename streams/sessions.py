"""Event-time sessions of one journey: pure, deterministic, no clock.

A session is a run of events with no pause of `gap` or more between neighbours, and at most
`max_length` long. Time moves only by the *watermark* the caller passes in: the journey's own
newest event time minus `grace`, or a tick's watermark when the journey has gone quiet (see
streams/journey.py and streams/partition.py). Hence:
- an event is placed in the open session it falls within `gap` of; if it falls within `gap` of
  two open sessions it bridges them and they merge (the earlier keeps its id, the other's id is
  kept in `merged_from` so rows already written stay attributable);
- an open session closes once `end + gap <= watermark`: no event on time can still extend it;
- an event that fits no open session and is older than the watermark is *late*: it is counted
  and still stored (attributed to the closed session it falls in, when one is remembered),
  but it opens and changes nothing.
A session's id derives from its *earliest* event's id (uuid5; event ids are unique), so a
replay, or another arrival order within grace, gives the same final id. Touchpoints are emitted
at once with the id their session had then; when an earlier event (within grace) or a merge
changes the id, the old one goes to `merged_from`, so every id a touchpoint carries resolves to
its final session.
"""

from __future__ import annotations

import bisect
import functools
import uuid
from dataclasses import dataclass, field

from journey.config import SessionSettings
from journey.schemas.stages import Stage
from journey.streams.timeutil import HOUR_MS, MINUTE_MS


def _stage_rank(stage: str) -> tuple[int, str]:
    return (Stage(stage).rank, stage)


SESSION_NAMESPACE = uuid.UUID("1d4f3c9e-0b6a-4f43-9a57-2f6e1c8b7a21")
RECENTLY_CLOSED_KEPT = 4  # closed sessions remembered to attribute late events


@dataclass(frozen=True, slots=True)
class SessionLimits:
    gap_ms: int
    max_length_ms: int
    grace_ms: int
    max_path: int

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> SessionLimits:
        return cls(
            gap_ms=int(settings.gap_minutes * MINUTE_MS),
            max_length_ms=int(settings.max_length_hours * HOUR_MS),
            grace_ms=int(settings.grace_minutes * MINUTE_MS),
            max_path=settings.max_path,
        )


@dataclass(slots=True)
class Session:
    start_ms: int
    end_ms: int
    event_count: int = 0
    channels: list[str] = field(default_factory=list)  # sorted
    path: list[tuple[int, str, str]] = field(default_factory=list)  # (time, event_id, touchpoint), time order
    stages: list[str] = field(default_factory=list)  # in stage order
    merged_from: list[str] = field(default_factory=list)
    version: int = 0  # grows with every change: ReplacingMergeTree keeps the highest
    friction_score: float = 0.0  # weighted sum of the session's friction signals (friction.weights)

    def add(
        self, occurred_ms: int, event_id: str, channel: str, touchpoint: str, stage: str | None, max_path: int
    ) -> None:
        former = self.session_id
        self.start_ms = min(self.start_ms, occurred_ms)
        self.end_ms = max(self.end_ms, occurred_ms)
        self.event_count += 1
        self.version += 1
        if channel not in self.channels:
            bisect.insort(self.channels, channel)
        if stage is not None and stage not in self.stages:
            bisect.insort(self.stages, stage, key=_stage_rank)
        bisect.insort(self.path, (occurred_ms, event_id, touchpoint))
        del self.path[max_path:]  # keep the first `max_path` touchpoints of the session
        self._keep_alias(former)

    def _keep_alias(self, former: str) -> None:
        if former and former != self.session_id and former not in self.merged_from:
            self.merged_from = sorted({*self.merged_from, former})

    def absorb(self, other: Session, max_path: int) -> None:
        former = self.session_id
        self.start_ms = min(self.start_ms, other.start_ms)
        self.end_ms = max(self.end_ms, other.end_ms)
        self.event_count += other.event_count
        self.version += other.version + 1
        self.channels = sorted(set(self.channels) | set(other.channels))
        self.stages = sorted(set(self.stages) | set(other.stages), key=_stage_rank)
        self.path = sorted(self.path + other.path)[:max_path]
        self.merged_from = sorted({*self.merged_from, other.session_id, *other.merged_from} - {self.session_id})
        self.friction_score += other.friction_score
        self._keep_alias(former)

    @property
    def session_id(self) -> str:
        return new_session_id(self.path[0][1]) if self.path else ""

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class ClosedSession:
    session: Session
    reason: str  # "inactivity" | "max_length"


@dataclass(frozen=True, slots=True)
class Placement:
    session_id: str | None
    late: bool


@dataclass(slots=True)
class SessionState:
    open: list[Session] = field(default_factory=list)  # sorted by start
    recently_closed: list[tuple[str, int, int]] = field(default_factory=list)  # (id, start, end)
    late_events: int = 0


@functools.lru_cache(maxsize=1 << 16)  # `session_id` is read often; uuid5 costs ~10 µs
def new_session_id(earliest_event_id: str) -> str:
    return str(uuid.uuid5(SESSION_NAMESPACE, earliest_event_id))


def close_expired(state: SessionState, watermark_ms: int, limits: SessionLimits) -> list[ClosedSession]:
    """Close every open session that no on-time event can extend any more."""
    closed = [ClosedSession(s, "inactivity") for s in state.open if s.end_ms + limits.gap_ms <= watermark_ms]
    if closed:
        state.open = [s for s in state.open if s.end_ms + limits.gap_ms > watermark_ms]
        for item in closed:
            _remember_closed(state, item.session)
    return closed


def _remember_closed(state: SessionState, session: Session) -> None:
    state.recently_closed.append((session.session_id, session.start_ms, session.end_ms))
    state.recently_closed.sort(key=lambda c: c[2])
    del state.recently_closed[:-RECENTLY_CLOSED_KEPT]


def place_event(
    state: SessionState,
    journey_key: str,
    occurred_ms: int,
    event_id: str,
    channel: str,
    touchpoint: str,
    stage: str | None,
    watermark_ms: int,
    limits: SessionLimits,
) -> tuple[Placement, list[ClosedSession]]:
    """Put one event into its session; return where it went and any sessions this closed."""
    closed = close_expired(state, watermark_ms, limits)
    gap = limits.gap_ms
    touching = [s for s in state.open if s.start_ms - gap < occurred_ms < s.end_ms + gap]

    if not touching:
        if occurred_ms < watermark_ms:
            state.late_events += 1
            home = next((c[0] for c in state.recently_closed if c[1] - gap < occurred_ms < c[2] + gap), None)
            return Placement(home, late=True), closed
        session = Session(occurred_ms, occurred_ms)
        bisect.insort(state.open, session, key=lambda s: s.start_ms)
        touching = [session]

    target = touching[0]
    for other in touching[1:]:  # the event bridges sessions: they become one
        target.absorb(other, limits.max_path)
        state.open.remove(other)

    if max(target.end_ms, occurred_ms) - min(target.start_ms, occurred_ms) >= limits.max_length_ms:
        # Joining would make the session too long: it ends here and the event opens the next one.
        state.open.remove(target)
        _remember_closed(state, target)
        closed.append(ClosedSession(target, "max_length"))
        target = Session(occurred_ms, occurred_ms)
        bisect.insort(state.open, target, key=lambda s: s.start_ms)

    target.add(occurred_ms, event_id, channel, touchpoint, stage, limits.max_path)
    return Placement(target.session_id, late=False), closed
