"""Events/s of the pure stream logic (stage 1 + stage 2, no Kafka): `python -m bench.pure_core`."""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

from bench.workload import journeys
from journey.config import Settings
from schemas.touchpoint import Touchpoint
from streams.codec import decode_state, encode_ingest_state, encode_state
from streams.identity import IngestState, Linked, Stitched, anonymous_journey_key, ingest
from streams.journey import Forward, Handoff, JourneyRules
from streams.messages import AbsorbMessage, HandoffMessage, SourceStamp, TouchpointMessage, decode_message, encode_message
from streams.partition import JourneyPartition
from streams.timeutil import to_ms


def run(customers: int, batch: int) -> dict[str, float]:
    settings = Settings()
    rules = JourneyRules.from_settings(settings)
    events = [Touchpoint.model_validate(e) for e in journeys(customers)]
    raw = [e.to_json_bytes() for e in events]
    from schemas.touchpoint import parse_touchpoint

    started = time.perf_counter()
    ingest_states: dict[str, IngestState] = defaultdict(IngestState)
    stitched: list[bytes] = []
    progress = -(2**62)
    for payload in raw:
        event = parse_touchpoint(payload)
        progress = max(progress, to_ms(event.occurred_at))
        stamp = SourceStamp(0, progress)
        state = ingest_states[event.partition_key]
        for output in ingest(state, event, settings.identity):
            if isinstance(output, Stitched):
                stitched.append(encode_message(TouchpointMessage(output.journey_key, output.customer_id, output.event, output.awaits_handoff, stamp)))
            elif isinstance(output, Linked) and output.new:
                stitched.append(encode_message(AbsorbMessage(anonymous_journey_key(output.anonymous_id), output.customer_id, output.linked_at_ms, stamp)))
        encode_ingest_state(state)  # the shell stores each touched state once per batch; count the cost
    stage1 = time.perf_counter() - started

    started = time.perf_counter()
    table: dict[str, bytes] = {}
    partition = JourneyPartition(rules, source_partitions=1)
    outputs = 0
    follow_up: list[bytes] = []  # handoffs and forwards come back in the next batch, as on Kafka
    position = 0
    while position < len(stitched) or follow_up:
        chunk = follow_up + stitched[position : position + batch]
        position += batch
        follow_up = []
        messages = [decode_message(m) for m in chunk]
        result = partition.process(messages, lambda k: decode_state(table[k]) if k in table else None)
        for key, state in result.changed.items():
            table[key] = encode_state(state)
        for output in result.outputs:
            if isinstance(output, Handoff):
                follow_up.append(encode_message(HandoffMessage(output)))
            elif isinstance(output, Forward):
                follow_up.append(encode_message(TouchpointMessage(output.journey_key, output.customer_id, output.event)))
            else:
                outputs += 1
    stage2 = time.perf_counter() - started
    return {"events": len(events), "stage1_eps": len(events) / stage1, "stage2_eps": len(events) / stage2,
            "both_eps": len(events) / (stage1 + stage2), "outputs": outputs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    r = run(args.customers, args.batch)
    print(f"pure core: {r['events']} events; stage 1 {r['stage1_eps']:,.0f} ev/s, stage 2 {r['stage2_eps']:,.0f} ev/s, "
          f"both {r['both_eps']:,.0f} ev/s ({r['outputs']} outputs)")
