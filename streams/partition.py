"""Stage 2 for one partition of `touchpoints.stitched`, a batch at a time. Pure.

The agent hands over a batch of decoded messages in partition order and a loader for stored
journey states; it gets back the outputs in order and the states to store (each once per batch,
the point of batching). The watermark is advanced message by message, before grouping by key
could reorder anything, so the outputs do not depend on where batches are cut.

Two clocks:
- each journey judges lateness and closes sessions by its *own* event time (JourneyState.
  watermark_ms), so journeys (and source partitions) running ahead never make others late;
- the *partition* watermark decides when ticks close the sessions of journeys that went quiet:
  the slowest active source partition's progress (stamped on stage 1's messages) minus grace,
  moved further by the idle wall time a tick carries. A source announced idle does not count
  until it sends again; until every source has reported or gone idle there is none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from journey.streams.codec import encode_state
from journey.streams.erasure import ErasureProgress
from journey.streams.journey import (
    NO_WATERMARK,
    Erased,
    JourneyOutput,
    JourneyRules,
    JourneyState,
    absorb_into,
    advance_watermark,
    apply_touchpoint,
    next_deadline,
    receive_handoff,
)
from journey.streams.messages import (
    AbsorbMessage,
    EraseMessage,
    HandoffMessage,
    SourceIdleMessage,
    SourceProgressMessage,
    SourceStamp,
    StitchedMessage,
    TickMessage,
    TouchpointMessage,
)
from journey.streams.state_cache import StateCache

StateLoader = Callable[[str], JourneyState | None]


def _before_erasure(state: JourneyState, message: TouchpointMessage | AbsorbMessage | HandoffMessage) -> bool:
    """The person's earlier data still on its way to a journey that was erased: dropped
    (streams/erasure.py, ErasureProgress)."""
    erasure = state.erasure
    if erasure is None:
        return False
    if isinstance(message, HandoffMessage):
        return not erasure.admits_from(message.handoff.from_journey_key, message.handoff.erasure)
    if message.source is None:  # forwarded
        return not erasure.admits_from(message.forwarded_from, message.erasure)  # type: ignore[union-attr]
    return not erasure.admits(message.source.partition)


@dataclass
class BatchResult:
    outputs: list[JourneyOutput] = field(default_factory=list)
    stored: dict[str, bytes] = field(default_factory=dict)  # journey_key -> its changed state, encoded


@dataclass
class JourneyPartition:
    rules: JourneyRules
    source_partitions: int
    watermark_ms: int = NO_WATERMARK
    event_watermark_ms: int = NO_WATERMARK  # from source stamps only: what ticks add idle time to
    source_watermarks: dict[int, int] = field(default_factory=dict)
    idle_sources: set[int] = field(default_factory=set)
    silent_sources: dict[int, int] = field(default_factory=dict)  # source -> silence its last heartbeat told
    # journey_key -> earliest event time it has something to do without new events (journey.
    # next_deadline: a session to close, pending events, a detector timer): what ticks check
    close_deadlines: dict[str, int] = field(default_factory=dict)
    with_open_sessions: set[str] = field(default_factory=set)
    cached_state_bytes: int = 0  # encoded size of the states kept decoded between batches; 0: none
    cache: StateCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = StateCache(self.cached_state_bytes)

    def process(self, messages: list[StitchedMessage], load: StateLoader) -> BatchResult:
        """The batch's outputs and changed states, encoded; the changed states are also kept
        decoded for the next batch, so the caller must store them (or drop this processor)."""
        result = BatchResult()
        changed: dict[str, JourneyState] = {}

        def state_of(key: str) -> JourneyState:
            state = changed.get(key)
            if state is None:
                state = self.cache.get(key) or load(key) or JourneyState(journey_key=key)
                changed[key] = state
            return state

        for message in messages:
            match message:
                case TouchpointMessage(key, customer_id, event, awaits_handoff, source):
                    self._observe(source)
                    state = state_of(key)
                    if _before_erasure(state, message):
                        continue
                    outputs = apply_touchpoint(state, event, customer_id, self.rules, self.watermark_ms, awaits_handoff)
                    result.outputs.extend(outputs)
                    self._index(state)
                case AbsorbMessage(key, customer_id, linked_at_ms, source):
                    self._observe(source)
                    state = state_of(key)
                    if _before_erasure(state, message):
                        continue
                    result.outputs.extend(absorb_into(state, customer_id, linked_at_ms, self.rules))
                    self._index(state)
                case HandoffMessage(handoff):
                    state = state_of(handoff.to_journey_key)
                    if _before_erasure(state, message):
                        continue
                    result.outputs.extend(receive_handoff(state, handoff, self.rules))
                    self._index(state)
                case EraseMessage(key, request_id, markers, index, source_partition, senders):
                    state = state_of(key)
                    progress = state.erasure
                    if progress is None or progress.request_id != request_id:  # its first marker
                        self._forget(key)
                        result.outputs.append(Erased(key, request_id))
                        progress = ErasureProgress(request_id, markers, [], [], list(senders))
                        state = changed[key] = JourneyState(journey_key=key, erasure=progress)  # nothing of the old
                    progress.mark(index, source_partition)
                case SourceProgressMessage(source, silent_ms):
                    self._observe(source, silent_ms)
                case SourceIdleMessage(source_partition):
                    self.idle_sources.add(source_partition)
                    self._recompute()
                case TickMessage(watermark_ms):
                    self.watermark_ms = max(self.watermark_ms, watermark_ms)
                    due = [k for k, deadline in self.close_deadlines.items() if deadline <= self.watermark_ms]
                    for key in sorted(due):
                        state = state_of(key)
                        result.outputs.extend(advance_watermark(state, self.watermark_ms, self.rules))
                        self._index(state)
        for key, state in changed.items():
            encoded = result.stored[key] = encode_state(state)
            self.cache.put(key, state, len(encoded))
        return result

    def _forget(self, key: str) -> None:
        self.cache.drop(key)
        self.close_deadlines.pop(key, None)
        self.with_open_sessions.discard(key)

    def _observe(self, source: SourceStamp | None, silent_ms: int | None = None) -> None:
        if source is None:
            return  # forwarded by stage 2 itself: says nothing about source progress
        previous = self.source_watermarks.get(source.partition, NO_WATERMARK)
        self.source_watermarks[source.partition] = max(previous, source.watermark_ms)
        self.idle_sources.discard(source.partition)
        if silent_ms is None:
            self.silent_sources.pop(source.partition, None)
        else:
            self.silent_sources[source.partition] = silent_ms
        self._recompute()

    def _recompute(self) -> None:
        known = set(self.source_watermarks) | self.idle_sources
        if len(known) < self.source_partitions:
            return  # some source has neither reported nor been announced idle
        active = [wm for p, wm in self.source_watermarks.items() if p not in self.idle_sources]
        if self._settled():  # every source caught up and silent for a while: a backfill that ended
            active = []
        slowest = min(active) if active else max(self.source_watermarks.values(), default=NO_WATERMARK)
        if slowest == NO_WATERMARK:
            return
        self.event_watermark_ms = max(self.event_watermark_ms, slowest - self.rules.limits.grace_ms)
        self.watermark_ms = max(self.watermark_ms, self.event_watermark_ms)

    def _index(self, state: JourneyState) -> None:
        if state.sessions.open:
            self.with_open_sessions.add(state.journey_key)
        else:
            self.with_open_sessions.discard(state.journey_key)
        deadline = next_deadline(state, self.rules)
        if deadline is None:
            self.close_deadlines.pop(state.journey_key, None)
        else:
            self.close_deadlines[state.journey_key] = deadline

    def rebuild_index(self, states: list[JourneyState]) -> None:
        """After a restart or rebalance: which stored journeys have sessions still open."""
        for state in states:
            self._index(state)

    def _settled(self) -> bool:
        """Every source announced idle or silent (by its heartbeats) for `settle_after_ms`. Until
        then a silent source still bounds the watermark, moving on with the wall clock: a burst
        published after a short pause is judged against its own partition, not another one that
        was read first (streams/ticks.py)."""
        settled = {p for p, silent_ms in self.silent_sources.items() if silent_ms >= self.rules.settle_after_ms}
        return len(settled | self.idle_sources) >= self.source_partitions

    @property
    def all_sources_idle(self) -> bool:
        """Every source partition is caught up and silent: only then may wall time stand in for
        event time (a source with a backlog would find its events behind the watermark)."""
        return len(self.idle_sources) >= self.source_partitions

    def has_work_due(self, watermark_ms: int) -> bool:
        return any(deadline <= watermark_ms for deadline in self.close_deadlines.values())

    @property
    def open_sessions(self) -> int:
        """Journeys with an open session: the active-sessions gauge."""
        return len(self.with_open_sessions)
