"""The SDK as a publishing service gets it: the wheel built from this checkout, installed with its
base dependencies alone into a fresh virtualenv, publishes to the session broker (through
examples/python/publish.py), adds nothing to the service's environment but `journey` and the three
libraries it needs, and type-checks a service's code (py.typed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_to_end
from journey.cli.worker_process import broker_env
from journey.config import Settings
from journey.streams.murmur2 import key_partition
from journey.topics import TOUCHPOINTS, create_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "python" / "publish.py"
# What `pip install journey-telemetry` may bring: the SDK and what confluent-kafka, pydantic and orjson need.
BASE_DISTRIBUTIONS = {"journey-telemetry", "confluent-kafka", "pydantic", "pydantic-core", "annotated-types",
                      "typing-extensions", "typing-inspection", "orjson", "pip", "setuptools"}  # fmt: skip
PIPELINE_ONLY = {
    "chdb",
    "clickhouse-connect",
    "rocksdict",
    "aiohttp",
    "typer",
    "rich",
    "pydantic-settings",
    "faust-streaming",
}


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with nothing but the wheel and its base dependencies; returns its python."""
    workdir = tmp_path_factory.mktemp("sdk")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(workdir / "dist"), str(ROOT)], cwd=workdir)
    [wheel] = (workdir / "dist").glob("journey_telemetry-*.whl")
    run([sys.executable, "-m", "venv", str(workdir / "venv")], cwd=workdir)
    python = workdir / "venv" / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], cwd=workdir)
    return python


def run(command: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


def test_the_base_install_is_the_sdk_and_its_three_libraries(fresh_venv: Path) -> None:
    listed = run([str(fresh_venv), "-m", "pip", "list", "--format", "json"], cwd=fresh_venv.parent)
    installed = {p["name"].lower().replace("_", "-") for p in orjson.loads(listed.stdout)}
    assert installed <= BASE_DISTRIBUTIONS, installed - BASE_DISTRIBUTIONS
    assert {"journey-telemetry", "confluent-kafka", "pydantic", "orjson"} <= installed
    assert not installed & PIPELINE_ONLY

    # every file the wheel installed sits under journey/ (or its metadata, or the `journey` script)
    shown = run([str(fresh_venv), "-m", "pip", "show", "-f", "journey-telemetry"], cwd=fresh_venv.parent).stdout
    files = [line.strip() for line in shown.split("Files:", 1)[1].splitlines() if line.strip()]
    top_level = {Path(f).parts[0] for f in files if not f.startswith("..")}
    assert top_level == {"journey", next(p for p in top_level if p.endswith(".dist-info"))}, top_level
    assert "journey/py.typed" in files

    # the pipeline's command says what it needs instead of a traceback
    command = subprocess.run([str(fresh_venv.parent / "journey"), "run"], capture_output=True, text=True, timeout=60)
    assert command.returncode == 1 and "pip install 'journey-telemetry[pipeline]'" in command.stderr, command.stderr


def test_a_service_publishes_with_the_sdk_alone(fresh_venv: Path, settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    events = [orjson.dumps(e) for seed in range(2) for e in sample_journey(seed)]
    broken = orjson.dumps({**orjson.loads(events[0]), "channel": "fax"})
    published = subprocess.run([str(fresh_venv), str(EXAMPLE)], input=b"\n".join([*events, broken]).decode(),
                               env=broker_env(settings), cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert published.returncode == 2, published.stdout + published.stderr
    assert f"published {len(events)} event(s)" in published.stdout
    assert f"invalid event on line {len(events) + 1}: channel:" in published.stderr

    records = read_to_end(settings, settings.topics.name(TOUCHPOINTS))
    assert sorted(orjson.loads(r.value())["event_id"] for r in records) == sorted(
        orjson.loads(e)["event_id"] for e in events
    )
    assert all(r.partition() == key_partition(r.key().decode(), settings.topics.partitions) for r in records)


def test_a_services_code_type_checks_against_the_installed_sdk(fresh_venv: Path, tmp_path: Path) -> None:
    service = tmp_path / "service.py"
    service.write_text(
        "from journey import PublisherSettings, Touchpoint, TouchpointPublisher\n"
        "publisher = TouchpointPublisher(PublisherSettings.from_env())\n"
        "publisher.publish({'event_id': 'x'})\n"
        "count: int = publisher.delivered\n"
        "wrong: str = publisher.delivered\n"  # the one error mypy must find, from the SDK's own types
        "def make(event: Touchpoint) -> str:\n    return event.touchpoint\n"
    )
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--python-executable", str(fresh_venv),
                              "--no-incremental", str(service)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert checked.returncode == 1, checked.stdout
    assert checked.stdout.count("error:") == 1 and 'service.py:5: error: Incompatible types in assignment' in checked.stdout, \
        checked.stdout  # fmt: skip
