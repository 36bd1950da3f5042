"""Stage 2 for one partition of `touchpoints.stitched`, a batch at a time. Pure.

The agent hands over a batch of decoded messages in partition order and a loader for stored
journey states; it gets back the outputs in order and the states to store (each once per batch,
the point of batching). The watermark is advanced message by message, before grouping by key
could reorder anything, so the outputs do not depend on where batches are cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from streams.journey import (
    JourneyOutput,
    JourneyRules,
    JourneyState,
    absorb_into,
    advance_watermark,
    apply_touchpoint,
    receive_handoff,
)
from streams.messages import AbsorbMessage, HandoffMessage, StitchedMessage, TickMessage, TouchpointMessage
from streams.timeutil import to_ms

NO_WATERMARK = -(2**62)

StateLoader = Callable[[str], JourneyState | None]


@dataclass
class BatchResult:
    outputs: list[JourneyOutput] = field(default_factory=list)
    changed: dict[str, JourneyState] = field(default_factory=dict)


@dataclass
class JourneyPartition:
    rules: JourneyRules
    watermark_ms: int = NO_WATERMARK
    # journey_key -> earliest moment one of its open sessions can close (end + gap): what ticks check
    close_deadlines: dict[str, int] = field(default_factory=dict)

    def process(self, messages: list[StitchedMessage], load: StateLoader) -> BatchResult:
        result = BatchResult()
        grace_ms = self.rules.limits.grace_ms

        def state_of(key: str) -> JourneyState:
            state = result.changed.get(key)
            if state is None:
                state = load(key) or JourneyState(journey_key=key)
                result.changed[key] = state
            return state

        for message in messages:
            match message:
                case TouchpointMessage(key, customer_id, event, awaits_handoff):
                    self.watermark_ms = max(self.watermark_ms, to_ms(event.occurred_at) - grace_ms)
                    state = state_of(key)
                    outputs = apply_touchpoint(state, event, customer_id, self.watermark_ms, self.rules, awaits_handoff)
                    result.outputs.extend(outputs)
                    self._index(state)
                case AbsorbMessage(key, customer_id, linked_at_ms):
                    state = state_of(key)
                    result.outputs.extend(absorb_into(state, customer_id, linked_at_ms, self.rules))
                    self._index(state)
                case HandoffMessage(handoff):
                    state = state_of(handoff.to_journey_key)
                    result.outputs.extend(receive_handoff(state, handoff, self.watermark_ms, self.rules))
                    self._index(state)
                case TickMessage(watermark_ms):
                    self.watermark_ms = max(self.watermark_ms, watermark_ms)
                    due = [k for k, deadline in self.close_deadlines.items() if deadline <= self.watermark_ms]
                    for key in sorted(due):
                        state = state_of(key)
                        result.outputs.extend(advance_watermark(state, self.watermark_ms, self.rules))
                        self._index(state)
        return result

    def _index(self, state: JourneyState) -> None:
        if state.sessions.open:
            gap = self.rules.limits.gap_ms
            self.close_deadlines[state.journey_key] = min(s.end_ms for s in state.sessions.open) + gap
        else:
            self.close_deadlines.pop(state.journey_key, None)

    def rebuild_index(self, states: list[JourneyState]) -> None:
        """After a restart or rebalance: which stored journeys have sessions still open."""
        for state in states:
            self._index(state)

    @property
    def open_sessions(self) -> int:
        return len(self.close_deadlines)
