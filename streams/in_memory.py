"""Stages 1 and 2 wired together without Kafka: the routing the worker does, in memory.

One stage-2 partition fed by one source partition, a dict as the state table, every stitched
message encoded and decoded as on Kafka. Used by the property tests and the pure-core benchmark.
"""

from __future__ import annotations

from collections import defaultdict

from journey.config import IdentitySettings
from schemas.touchpoint import Touchpoint
from streams.codec import decode_state, encode_state
from streams.identity import IngestState, Linked, Stitched, anonymous_journey_key, ingest
from streams.journey import Forward, Handoff, JourneyRules
from streams.messages import (
    AbsorbMessage,
    HandoffMessage,
    SourceStamp,
    StitchedMessage,
    TickMessage,
    TouchpointMessage,
    decode_message,
    encode_message,
)
from streams.partition import JourneyPartition
from streams.timeutil import to_ms


class InMemoryPipeline:
    def __init__(self, rules: JourneyRules, identity: IdentitySettings | None = None) -> None:
        self.rules = rules
        self.identity = identity or rules.identity
        self.ingest_states: dict[str, IngestState] = defaultdict(IngestState)
        self.table: dict[str, bytes] = {}
        self.partition = JourneyPartition(rules, source_partitions=1)
        self.source_watermark_ms = -(2**62)  # one source partition, stamped as stage 1 does
        self.outputs: list = []

    def stage1(self, event: Touchpoint) -> list[StitchedMessage]:
        self.source_watermark_ms = max(self.source_watermark_ms, to_ms(event.occurred_at))
        stamp = SourceStamp(0, self.source_watermark_ms)
        messages: list[StitchedMessage] = []
        for output in ingest(self.ingest_states[event.partition_key], event, self.identity):
            if isinstance(output, Stitched):
                messages.append(
                    TouchpointMessage(output.journey_key, output.customer_id, output.event, output.awaits_handoff, stamp)
                )
            elif isinstance(output, Linked) and output.new:
                key = anonymous_journey_key(output.anonymous_id)
                messages.append(AbsorbMessage(key, output.customer_id, output.linked_at_ms, stamp))
        return messages

    def stage2(self, batch: list[StitchedMessage]) -> None:
        pending = [decode_message(encode_message(m)) for m in batch]  # through the wire format
        while pending:
            result = self.partition.process(pending, lambda k: decode_state(self.table[k]) if k in self.table else None)
            for key, state in result.changed.items():
                self.table[key] = encode_state(state)
            pending = []
            for output in result.outputs:
                if isinstance(output, Handoff):
                    pending.append(HandoffMessage(output))
                elif isinstance(output, Forward):
                    pending.append(TouchpointMessage(output.journey_key, output.customer_id, output.event))
                else:
                    self.outputs.append(output)

    def run(self, events: list[Touchpoint], batch_sizes: list[int] | None = None, tick_ms: int | None = None) -> list:
        messages = [m for e in events for m in self.stage1(e)]
        sizes = iter(batch_sizes or [len(messages) or 1])
        position = 0
        while position < len(messages):
            size = next(sizes, 1)
            self.stage2(messages[position : position + size])
            position += size
        if tick_ms is not None:  # after the batches drained, as a wall-clock tick would come
            self.stage2([TickMessage(tick_ms)])
        return self.outputs
