"""The stitched topic's wire format: single messages and bundles of them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from journey.streams.messages import (
    SourceIdleMessage,
    SourceProgressMessage,
    SourceStamp,
    TickMessage,
    decode_messages,
    encode_bundles,
    encode_message,
)

MESSAGES = st.lists(
    st.one_of(
        st.builds(TickMessage, st.integers(0, 2**53)),
        st.builds(SourceIdleMessage, st.integers(0, 1000)),
        st.builds(SourceProgressMessage, st.builds(SourceStamp, st.integers(0, 1000), st.integers(-(2**62), 2**53))),
    ),
    max_size=300,
)


@given(messages=MESSAGES, max_bytes=st.integers(1, 4000))
def test_bundles_keep_every_message_in_order_within_the_size(messages: list, max_bytes: int) -> None:
    encoded = [encode_message(m) for m in messages]
    bundles = encode_bundles(encoded, max_bytes)
    assert [m for bundle in bundles for m in decode_messages(bundle)] == messages
    for bundle in bundles:
        members = decode_messages(bundle)
        assert len(bundle) <= max_bytes or len(members) == 1, "only a message too large alone exceeds the size"
    assert bool(bundles) == bool(messages)
    if messages and max_bytes >= sum(len(e) + 1 for e in encoded) + 1:
        assert len(bundles) == 1


def test_a_single_message_record_still_decodes() -> None:
    """Ticks and broadcasts travel alone, and records written before bundles existed replay."""
    assert decode_messages(encode_message(TickMessage(5))) == [TickMessage(5)]
