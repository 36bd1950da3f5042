"""Fuzzing every decoder of bytes from outside a process: whatever arrives, a decoder returns a
value or raises its typed rejection, never anything else (an untyped exception in an agent
stops the worker). JOURNEY_FUZZ_EXAMPLES sets the cases per target: 1,000 in `make test`,
10,000 in `make fuzz`."""

from __future__ import annotations

import contextlib
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journey.schemas.touchpoint import InvalidTouchpoint, parse_touchpoint
from journey.streams.codec import StateFormatError, decode_ingest_state, decode_state, encode_ingest_state, encode_state
from journey.streams.identity import IngestState
from journey.streams.journey import JourneyState
from journey.streams.messages import MessageFormatError, TickMessage, decode_messages, encode_message

EXAMPLES = int(os.environ.get("JOURNEY_FUZZ_EXAMPLES", "1000"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)
FIELDS = ["event_id", "occurred_at", "customer_id", "anonymous_id", "account_id", "channel", "touchpoint",
          "source", "flow", "step", "score", "stage", "properties", "type", "journey_key", "event"]  # fmt: skip
# Objects with the contract's field names and any values: they reach the validator, not just the parser.
EVENTISH = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=10)


def dumps(value: object) -> bytes:
    """As any JSON producer writes it (integers of any size included; orjson stops at 64 bits)."""
    return json.dumps(value).encode()


PAYLOADS = st.binary(max_size=300) | JSON.map(dumps) | EVENTISH.map(dumps)


@fuzz
@given(raw=PAYLOADS)
def test_the_touchpoint_decoder_returns_a_touchpoint_or_a_typed_rejection(raw: bytes) -> None:
    try:
        parse_touchpoint(raw)
    except InvalidTouchpoint as rejection:
        assert rejection.reason in {"not_utf8", "not_json", "not_an_object", "too_large", "schema"}


@fuzz
@given(raw=PAYLOADS | st.lists(EVENTISH).map(dumps))
def test_the_stitched_decoder_returns_messages_or_a_typed_rejection(raw: bytes) -> None:
    with contextlib.suppress(MessageFormatError):
        decode_messages(raw)


@fuzz
@given(raw=PAYLOADS | st.lists(JSON, max_size=20).map(lambda v: dumps([3, *v])))
def test_the_state_decoders_return_a_state_or_a_typed_rejection(raw: bytes) -> None:
    for decode in (decode_state, decode_ingest_state):
        with contextlib.suppress(StateFormatError):
            decode(raw)


def test_the_decoders_still_read_what_the_encoders_write() -> None:
    """The typed rejections wrap the decoders; the round trips are unchanged."""
    assert decode_messages(encode_message(TickMessage(7))) == [TickMessage(7)]
    assert decode_state(encode_state(JourneyState(journey_key="cust-1"))).journey_key == "cust-1"
    assert decode_ingest_state(encode_ingest_state(IngestState(customer_id="cust-1"))).customer_id == "cust-1"
