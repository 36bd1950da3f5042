"""Publishes touchpoints to Journey Telemetry from a Python service.

    pip install journey-telemetry
    JOURNEY_KAFKA__BOOTSTRAP_SERVERS=broker:9092 python publish.py < events.jsonl

Reads one JSON event per line on stdin. The SDK validates each before anything is sent (an invalid
one is reported on stderr with the failing field and skipped: exit status 2), keys it by
anonymous_id when present (else customer_id) and sends it with an idempotent producer.
"""

from __future__ import annotations

import sys

from journey import InvalidTouchpoint, PublisherSettings, TouchpointPublisher, parse_touchpoint


def main() -> int:
    invalid = 0
    with TouchpointPublisher(PublisherSettings.from_env()) as publisher:
        for line_number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                publisher.publish(parse_touchpoint(line.encode()))
            except InvalidTouchpoint as error:
                invalid += 1
                print(f"invalid event on line {line_number}: {error}", file=sys.stderr)
    print(
        f"published {publisher.delivered} event(s) to {publisher.topic}" + (f", {invalid} invalid" if invalid else "")
    )
    return 2 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
