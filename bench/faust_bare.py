"""A bare Faust agent counting the records of a topic:
`python -m bench.faust_bare BOOTSTRAP TOPIC N OUT`. Writes {"records_per_s": …} (first record to
the N-th) to OUT and exits (Faust's worker takes over stdout)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

import faust
import orjson


def main(bootstrap: str, topic_name: str, expected: int, out: str) -> None:
    app = faust.App(f"bench-bare-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", store="memory://",
                    datadir=tempfile.mkdtemp(prefix="faust-bare-"), web_enabled=False, autodiscover=False,
                    consumer_auto_offset_reset="earliest", key_serializer="raw", value_serializer="raw")  # fmt: skip
    topic = app.topic(topic_name, value_type=bytes, key_type=bytes)
    counted = {"n": 0, "started": 0.0}

    @app.agent(topic)
    async def count(stream):
        async for _ in stream:
            if counted["n"] == 0:
                counted["started"] = time.perf_counter()
            counted["n"] += 1
            if counted["n"] == expected:
                rate = expected / (time.perf_counter() - counted["started"])
                with open(out, "wb") as result:
                    result.write(orjson.dumps({"records_per_s": rate}))
                os._exit(0)  # the measurement is done: no orderly shutdown to wait for

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
