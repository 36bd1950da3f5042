"""`journey erase`: the right to erasure, from the operator's side (the pipeline's part is in
streams/erasure.py, ClickHouse's in sinks/erasure.py).

1. the person's anonymous ids: every id `journey.identities` links to the customer (its latest
   record per id, as compaction keeps it), plus those given;
2. one erasure request per id to `touchpoints`, keyed like that id's events (the SDK's producer);
3. wait until the stages have read past them (twice: their messages to other partitions too),
   then until the sink has written past everything the stages had sent by then;
4. report what the sink deleted (its `erasures` audit table: rows per table, no ids).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from journey.cli.topic_reader import read_to_end
from journey.config import Settings
from journey.streams.erasure import ErasureRequest, new_request_id, person_requests
from journey.streams.lag import partition_progress
from journey.streams.privacy import Protection
from journey.topics import JOURNEY_IDENTITIES, STITCHED, TOUCHPOINTS

WAIT_POLL_S = 1.0


@dataclass
class ErasurePlan:
    request_id: str
    customer_id: str | None
    anonymous_ids: list[str]
    requests: list[ErasureRequest] = field(default_factory=list)


def linked_anonymous_ids(settings: Settings, customer_id: str) -> list[str]:
    """Anonymous ids whose latest identity record names the customer (as stage 1 stores it:
    hashed when customer ids are), as kept or as claimed."""
    stored = Protection.from_settings(settings.privacy).journey_key_of(customer_id)
    latest: dict[bytes, bytes | None] = {}
    for message in read_to_end(settings, settings.topics.name(JOURNEY_IDENTITIES)):
        if message.key() is not None:
            latest[message.key()] = message.value()
    linked = []
    for key, value in latest.items():
        record = {} if value is None else orjson.loads(value)
        if stored in (record.get("customer_id"), record.get("claimed_customer_id")):
            linked.append(key.decode())
    return sorted(linked)


def plan(settings: Settings, customer_id: str | None, anonymous_ids: list[str]) -> ErasurePlan:
    found = [] if customer_id is None else linked_anonymous_ids(settings, customer_id)
    ids = sorted(set(found) | set(anonymous_ids))
    request_id = new_request_id()
    return ErasurePlan(request_id, customer_id, ids, person_requests(customer_id, ids, request_id))


def publish(settings: Settings, erasure: ErasurePlan) -> None:
    from journey.publisher import TouchpointPublisher

    with TouchpointPublisher(settings.publisher) as publisher:
        for request in erasure.requests:
            publisher.publish_raw(request.to_json_bytes(), request.partition_key.encode(), request.headers())


def wait_until_applied(settings: Settings, timeout_s: float, progress: Callable[[str], None]) -> bool:
    """True once the stages read past everything in their inputs as of now (again for what that
    sent on), and the sink wrote past what the stages had sent; False at the timeout."""
    from journey.sinks.rows import TABLES

    name, app_id = settings.topics.name, settings.worker.app_id
    deadline = time.monotonic() + timeout_s
    steps = [("the stages", app_id, [name(TOUCHPOINTS), name(STITCHED)])] * 3
    steps.append(("the sink", f"{app_id}-sink", [name(topic) for topic in TABLES]))
    for what, group, topics in steps:
        ends = {tp: end for tp, (_, end) in partition_progress(settings, group, topics).items()}
        progress(f"waiting for {what} ({group})")
        while True:
            current = partition_progress(settings, group, topics)
            if all(current[tp][0] >= end for tp, end in ends.items() if tp in current):
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_POLL_S)
    return True
