"""Right to erasure, the pipeline's part. Pure: what a request says and what each stage erases.

`journey erase` publishes one *erasure request* per key of the person to `touchpoints`: the
customer id, and each anonymous id linked to it (from `journey.identities`). A request is a record
with the header `journey-erasure` and a small JSON body, keyed like that person's events, so it
lands in the same source partition and is processed **in order with them**: what came before is
erased, what comes after starts afresh. That order is the input's, so the outcome does not depend
on batch cuts or pace, as everything else here.

Stage 1, for a request: the key's ingest state (duplicate memory, the anonymous id's link) is
deleted (a changelog tombstone), a tombstone goes to `journey.identities` (compaction forgets the
link; the sink deletes the key's identity rows) and an `EraseMessage` to each journey the id's
events can reach (its own anonymous journey, and the customer's: `erasure_targets`). Stage 2
replaces the journey's state by a marker state (`ErasureProgress`, nothing of the person) and
sends an *erasure marker* (a tombstone keyed by the journey key, with the request id in a header)
to each journey.* topic: in every partition the marker follows all of the journey's rows, so the
sink deletes them after inserting them, and rows of a fresh journey after the erasure are kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import orjson

from journey.streams.identity import anonymous_journey_key

REQUEST_HEADER = "journey-erasure"  # on a touchpoints record: an erasure request, not an event
MARKER_HEADER = "journey-erasure"  # on a journey.* tombstone: the request id
SUBJECT_HEADER = "journey-erasure-subject"  # on a journey.identities tombstone: "customer" or "anonymous"

MAX_REQUESTS = 10_000  # ids of one person in one erasure
Subject = Literal["customer", "anonymous"]
SUBJECTS: tuple[Subject, ...] = ("customer", "anonymous")


class ErasureFormatError(ValueError):
    """A record with the erasure header whose body is not a request (dead-lettered)."""


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    subject: Subject  # which kind of id
    id: str  # as the publisher knows it (a customer id before hashing)
    request_id: str  # one `journey erase` call; carried to the sink's audit rows
    customer_id: str | None = None  # the person's customer id (on every request of a customer)
    anonymous_ids: tuple[str, ...] = ()  # all the person's anonymous ids (every request names them)
    index: int = 0  # which request of the erasure this is

    @property
    def requests(self) -> int:
        """How many requests the erasure sends: one per id of the person."""
        return len(self.anonymous_ids) + (self.customer_id is not None)

    @property
    def partition_key(self) -> str:
        """The Kafka key of this id's events (and of the request): the same source partition."""
        return self.id

    def headers(self) -> list[tuple[str, bytes]]:
        return [(REQUEST_HEADER, b"1")]

    def to_json_bytes(self) -> bytes:
        return orjson.dumps({"subject": self.subject, "id": self.id, "request_id": self.request_id,
                             "customer_id": self.customer_id, "anonymous_ids": self.anonymous_ids,
                             "index": self.index})  # fmt: skip


def new_request_id() -> str:
    return str(uuid.uuid4())


def person_requests(customer_id: str | None, anonymous_ids: list[str], request_id: str) -> list[ErasureRequest]:
    """One request per id of the person (what `journey erase` publishes)."""
    anonymous = tuple(sorted(set(anonymous_ids)))
    ids: list[tuple[Subject, str]] = [] if customer_id is None else [("customer", customer_id)]
    ids += [("anonymous", a) for a in anonymous]
    return [ErasureRequest(subject, key, request_id, customer_id, anonymous, index)
            for index, (subject, key) in enumerate(ids)]  # fmt: skip


def is_erasure_request(headers: list[tuple[str, bytes]] | None) -> bool:
    return bool(headers) and any(name == REQUEST_HEADER for name, _ in headers)  # type: ignore[union-attr]


def parse_erasure_request(value: bytes | None) -> ErasureRequest:
    try:
        body = orjson.loads(value or b"")
        subject, key, request_id = body["subject"], body["id"], body["request_id"]
        customer_id, anonymous_ids, index = body.get("customer_id"), body.get("anonymous_ids", []), body.get("index", 0)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise ErasureFormatError(f"not an erasure request: {type(error).__name__}: {error}") from None
    if subject not in SUBJECTS:
        raise ErasureFormatError(f"erasure subject must be one of {', '.join(SUBJECTS)}, not {subject!r}")
    if not all(isinstance(v, str) and v for v in (key, request_id)) or not isinstance(customer_id, str | None):
        raise ErasureFormatError("an erasure request needs a non-empty string id and request_id")
    if not isinstance(anonymous_ids, list) or len(anonymous_ids) > MAX_REQUESTS:
        raise ErasureFormatError(f"anonymous_ids must be a list of at most {MAX_REQUESTS:,} ids")
    if not all(isinstance(a, str) and a for a in anonymous_ids):
        raise ErasureFormatError("anonymous_ids must be non-empty strings")
    request = ErasureRequest(subject, key, request_id, customer_id, tuple(anonymous_ids),
                             index if isinstance(index, int) and not isinstance(index, bool) else -1)  # fmt: skip
    if not 0 <= request.index < request.requests:
        raise ErasureFormatError("index must be a whole number below the number of the person's ids")
    if (subject == "customer" and customer_id != key) or (subject == "anonymous" and key not in anonymous_ids):
        raise ErasureFormatError("the request's id must be its customer_id or one of its anonymous_ids")
    return request


@dataclass(frozen=True, slots=True)
class ErasureTargets:
    """What stage 1 erases for a request: the ingest-state key, and the journeys to tell with the
    number of markers each will get (one per request whose events it can hold)."""

    state_key: str
    journeys: tuple[tuple[str, int], ...]
    senders: tuple[str, ...]  # the person's anonymous journeys: what they hand over or forward is theirs


def erasure_targets(request: ErasureRequest, stored_customer_id: str | None) -> ErasureTargets:
    """`stored_customer_id`: the request's customer id as stage 1 stores it (hashed when customer
    ids are). An anonymous id's events reach its own journey and, once linked, the customer's: both
    are told. The customer's journey hears from every request of the erasure, each from its own
    source partition, and takes only what comes after the marker of each (`ErasureProgress`)."""
    customer = () if stored_customer_id is None else ((stored_customer_id, request.requests),)
    senders = tuple(anonymous_journey_key(a) for a in request.anonymous_ids)
    if request.subject == "anonymous":
        return ErasureTargets(request.id, ((anonymous_journey_key(request.id), 1), *customer), senders)
    return ErasureTargets(stored_customer_id or request.id, customer, senders)


@dataclass(slots=True)
class ErasureProgress:
    """A journey erased by a request: kept in place of its state (its key and this, nothing of the
    person), so the person's earlier data still on its way is told from what comes after:
    - from stage 1, until every marker of the request arrived: a message from a source partition
      whose marker came is after the erasure (kept: the fresh journey), one from any other is
      before it (dropped). What is kept depends on each source partition's order alone;
    - handed over or forwarded by one of the person's anonymous journeys (`senders`): kept only
      when that journey was erased by the same request first (the message carries the request id);
    - a marker replayed after a restart changes nothing."""

    request_id: str
    markers: int
    seen: list[int]  # the markers' indices (which request of the erasure sent each)
    sources_past: list[int]
    senders: list[str]

    @property
    def complete(self) -> bool:
        return len(self.seen) >= self.markers

    def mark(self, index: int, source_partition: int) -> None:
        if index not in self.seen:
            self.seen.append(index)
        if source_partition not in self.sources_past:
            self.sources_past.append(source_partition)

    def admits(self, source_partition: int) -> bool:
        """A message from stage 1, read in that source partition."""
        return self.complete or source_partition in self.sources_past

    def admits_from(self, sender: str | None, erased_by: str | None) -> bool:
        """A message another journey sent (a handoff, a forwarded event), erased by `erased_by` first."""
        return sender not in self.senders or erased_by == self.request_id
