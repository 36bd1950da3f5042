"""The publisher examples for services in other languages (examples/node: kafkajs and ajv;
examples/go: kafka-go and jsonschema), built and run as a service would run them, against the
session broker and a real `journey worker`:

- they refuse what the Python SDK refuses, before sending, naming the field;
- what they send passes stage 1, keyed and placed as the Python SDK places it (murmur2 of
  anonymous_id, else customer_id), so one person's events share a partition whatever published them;
- a broken event sent anyway (--skip-validation) lands in the dead-letter topic with the reason a
  Python publisher gets for it.
"""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from journey import InvalidTouchpoint, TouchpointPublisher
from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_to_end
from journey.cli.worker_process import broker_env
from journey.config import Settings
from journey.streams.murmur2 import key_partition
from journey.topics import DEAD_LETTER, JOURNEY_TOUCHPOINTS, TOUCHPOINTS, create_topics
from tests.integration.worker_helpers import make_test_worker, wait_caught_up

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUILD_TIMEOUT_S = 600  # a first Go build downloads and compiles its modules


def build_node(workdir: Path) -> list[str]:
    node = EXAMPLES / "node"
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=node, check=True, capture_output=True, timeout=BUILD_TIMEOUT_S
    )
    return ["node", str(node / "publish.mjs")]


def build_go(workdir: Path) -> list[str]:
    binary = workdir / "publish"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=EXAMPLES / "go", check=True, capture_output=True,
                   timeout=BUILD_TIMEOUT_S)  # fmt: skip
    return [str(binary)]


BUILDERS: dict[str, Callable[[Path], list[str]]] = {"node": build_node, "go": build_go}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The example's command, built once per module."""
    tool = {"node": "npm", "go": "go"}[request.param]
    assert shutil.which(tool), f"{tool} is not installed: `make deps` installs it"
    return BUILDERS[request.param](tmp_path_factory.mktemp(request.param))


def run(command: list[str], settings: Settings, lines: list[bytes], *flags: str) -> subprocess.CompletedProcess[str]:
    """The example as its README runs it: in its folder (the schema is at ../../schemas), with the
    deployment's JOURNEY_* variables, events on stdin."""
    folder = EXAMPLES / ("node" if command[0] == "node" else "go")
    return subprocess.run([*command, *flags], input=b"\n".join(lines).decode() + "\n", env=broker_env(settings),
                          cwd=folder, capture_output=True, text=True, timeout=120)  # fmt: skip


def python_reason(settings: Settings, line: bytes) -> str:
    """What the Python SDK says of this event: it raises before sending anything."""
    with TouchpointPublisher(settings.publisher) as publisher, pytest.raises(InvalidTouchpoint) as refused:
        publisher.publish(orjson.loads(line))
    return refused.value.reason


def test_a_foreign_publisher_passes_stage_1_and_its_broken_events_are_dead_lettered_as_from_python(
    example: list[str], settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    start = datetime.now(UTC) - timedelta(days=2)  # a sample journey spans a day and some minutes
    good = [orjson.dumps(event) for seed in range(3) for event in sample_journey(seed, start)]
    bad_id = orjson.dumps({**orjson.loads(good[0]), "event_id": "not-a-uuid"})
    far_future = orjson.dumps(
        {**orjson.loads(good[1]), "occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    )
    no_source = orjson.dumps({k: v for k, v in orjson.loads(good[2]).items() if k != "source"})
    broken = [bad_id, far_future, no_source]

    validated = run(example, settings, [*good, *broken])
    assert validated.returncode == 2, validated.stdout + validated.stderr
    refusals = validated.stderr.splitlines()
    assert len(refusals) == len(broken), validated.stderr
    assert "/event_id" in refusals[0] and "occurred_at" in refusals[1] and "source" in refusals[2], validated.stderr
    assert f"published {len(good)} event(s)" in validated.stdout

    sent_anyway = run(example, settings, broken, "--skip-validation")
    assert sent_anyway.returncode == 0, sent_anyway.stdout + sent_anyway.stderr

    # placed as the Python SDK and Kafka's Java client place a key (murmur2)
    records = read_to_end(settings, settings.topics.name(TOUCHPOINTS))
    assert len(records) == len(good) + len(broken)
    for record in records:
        event = orjson.loads(record.value())
        assert record.key() == (event.get("anonymous_id") or event["customer_id"]).encode()
        assert record.partition() == key_partition(record.key().decode(), settings.topics.partitions)

    worker = make_test_worker(settings, tmp_path)
    worker.start()
    try:
        wait_caught_up(settings, worker, stages_only=True)
        passed = {
            orjson.loads(m.value())["event_id"]
            for m in read_to_end(settings, settings.topics.name(JOURNEY_TOUCHPOINTS))
        }
        assert passed == {orjson.loads(line)["event_id"] for line in good}
        dead = {base64.b64decode(d["original"]): d["reason"]
                for d in (orjson.loads(m.value()) for m in read_to_end(settings, settings.topics.name(DEAD_LETTER)))}  # fmt: skip
        assert dead == {line: python_reason(settings, line) for line in broken}
        assert set(dead.values()) == {"schema", "time_out_of_range"}
    finally:
        worker.stop(signal.SIGKILL)
