"""Journey Telemetry: touchpoint events in, journeys, friction signals and CX metrics out.

This package's top level is the publisher SDK, all a publishing service installs
(`pip install journey-telemetry`: confluent-kafka, pydantic and orjson):

    from journey import PublisherSettings, TouchpointPublisher

    with TouchpointPublisher(PublisherSettings.from_env()) as publisher:
        publisher.publish({"event_id": ..., "occurred_at": ..., ...})

The pipeline lives in the subpackages (`journey.streams`, `journey.sinks`, `journey.schemas`,
`journey.cli`) and needs the `pipeline` extra: `pip install 'journey-telemetry[pipeline]'`.
"""

from importlib.metadata import PackageNotFoundError, version

from journey.kafka_access import KafkaAccessError
from journey.publisher import DeliveryFailure, PublishError, TouchpointPublisher
from journey.schemas.touchpoint import SCHEMA_VERSION, Channel, InvalidTouchpoint, Touchpoint, parse_touchpoint
from journey.sdk_settings import ConfigError, ContractSettings, KafkaSettings, PublisherSettings

try:
    __version__ = version("journey-telemetry")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "SCHEMA_VERSION",
    "Channel",
    "ConfigError",
    "ContractSettings",
    "DeliveryFailure",
    "InvalidTouchpoint",
    "KafkaAccessError",
    "KafkaSettings",
    "PublishError",
    "PublisherSettings",
    "Touchpoint",
    "TouchpointPublisher",
    "__version__",
    "parse_touchpoint",
]
