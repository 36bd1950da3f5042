"""The publisher SDK against a real broker: what goes in comes out, keyed and intact."""

from __future__ import annotations

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_topic
from journey.config import Settings
from journey.publisher import PublishError, TouchpointPublisher
from journey.schemas.touchpoint import InvalidTouchpoint, parse_touchpoint
from journey.streams.murmur2 import key_partition
from journey.topics import TOUCHPOINTS, create_topics

pytestmark = pytest.mark.integration


def test_published_events_are_read_back_exactly_once_with_their_keys(settings: Settings) -> None:
    create_topics(settings)
    events = sample_journey(seed=1) + sample_journey(seed=2)
    with TouchpointPublisher(settings.publisher) as publisher:
        for event in events:
            publisher.publish(event)
    assert publisher.delivered == len(events)

    messages = read_topic(settings, settings.topics.name(TOUCHPOINTS), expected=len(events))
    assert len(messages) == len(events)
    by_id = {str(parse_touchpoint(m.value()).event_id): m for m in messages}
    assert set(by_id) == {e["event_id"] for e in events}
    for event in events:
        message = by_id[event["event_id"]]
        assert message.key() == event["anonymous_id"].encode()  # anonymous id first: one device, one order
        assert parse_touchpoint(message.value()).touchpoint == event["touchpoint"]


def test_one_persons_events_stay_in_order_on_one_partition(settings: Settings) -> None:
    create_topics(settings)
    events = sample_journey(seed=3)
    with TouchpointPublisher(settings.publisher) as publisher:
        for event in events:
            publisher.publish(event)
    messages = read_topic(settings, settings.topics.name(TOUCHPOINTS), expected=len(events))
    # the partition Kafka's Java client (and kafkajs, kafka-go's Murmur2Balancer) gives the key
    assert {m.partition() for m in messages} == {key_partition(events[0]["anonymous_id"], settings.topics.partitions)}
    ordered = sorted(messages, key=lambda m: m.offset())
    assert [orjson.loads(m.value())["event_id"] for m in ordered] == [e["event_id"] for e in events]


def test_invalid_event_is_refused_before_sending(settings: Settings) -> None:
    create_topics(settings)
    bad = sample_journey(seed=4)[0] | {"channel": "fax"}
    with TouchpointPublisher(settings.publisher) as publisher, pytest.raises(InvalidTouchpoint, match="channel"):
        publisher.publish(bad)
    assert read_topic(settings, settings.topics.name(TOUCHPOINTS), expected=0, timeout_s=2) == []


def test_delivery_failure_is_raised_on_flush(settings: Settings) -> None:
    # The topic is never created and the broker does not auto-create: delivery must fail, loudly.
    publisher = TouchpointPublisher(settings.publisher, producer_config={"message.timeout.ms": 2000})
    publisher.publish(sample_journey(seed=5)[0])
    with pytest.raises(PublishError) as raised:
        publisher.flush(timeout_s=20)
    assert len(raised.value.failures) == 1
    assert raised.value.failures[0].key == b"anon-000005"
    assert publisher.delivered == 0
