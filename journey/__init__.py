"""Journey Telemetry: touchpoint events in, journeys, friction signals and CX metrics out.

The service-facing API is the publisher SDK:

    from journey import TouchpointPublisher, load_settings
    with TouchpointPublisher(load_settings()) as publisher:
        publisher.publish({...})
"""

from journey.config import ConfigError, Settings, load_settings
from journey.publisher import PublishError, TouchpointPublisher

__all__ = ["ConfigError", "PublishError", "Settings", "TouchpointPublisher", "load_settings"]
