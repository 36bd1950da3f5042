"""`journey demo`, shortened (a few hundred simulated customers), as a user runs it: against the
session broker, into an embedded ClickHouse of its own, in a directory of its own. It finishes,
prints the report, and writes a report.html that renders in headless Chromium; Ctrl-C stops it
cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from journey.cli.worker_process import broker_env
from journey.config import Settings
from tests.browser import render
from tests.conftest import free_port
from tests.integration.worker_helpers import SOURCE_IDLE_S, TICK_S

pytestmark = pytest.mark.integration


def demo_env(settings: Settings, customers: int) -> dict[str, str]:
    stack = settings.stack
    return {
        **broker_env(settings),
        "JOURNEY_STACK__BROKER_PORT": str(stack.broker_port),  # the session broker: `stack up` finds it running
        "JOURNEY_STACK__CONTROLLER_PORT": str(stack.controller_port),
        "JOURNEY_STACK__DATA_DIR": str(stack.data_dir.resolve()),
        "JOURNEY_STACK__JAR_CACHE_DIR": str(stack.jar_cache_dir.resolve()),
        "JOURNEY_WORKER__APP_ID": f"demo-{uuid.uuid4().hex[:8]}",
        "JOURNEY_WORKER__WEB_PORT": str(free_port()),
        "JOURNEY_WORKER__SOURCE_IDLE_S": str(SOURCE_IDLE_S),
        "JOURNEY_WORKER__TICK_INTERVAL_S": str(TICK_S),
        "JOURNEY_SIMULATION__CUSTOMERS": str(customers),
        "JOURNEY_SIMULATION__DAYS": "1",
        "COLUMNS": "120",
    }


def demo(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from journey.cli.app import app; app()", "demo"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_a_short_demo_prints_the_report_and_writes_a_report_html_that_renders(
    settings: Settings, tmp_path: Path
) -> None:
    env = demo_env(settings, 300)
    process = demo(env, tmp_path)
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 0, output[-4000:]
    for expected in ("simulating 300 customers", "incident: checkout / payment broken", "Funnel: checkout",
                     "Friction signals by kind", "NPS, CSAT, CES", "report.html written"):  # fmt: skip
        assert expected in output, f"{expected!r} missing from:\n{output[-4000:]}"
    assert "rage_click" in output and "abandonment" in output

    assert 'class="mark"' in (tmp_path / "report.html").read_text()  # the incident, shaded on the time charts
    rendered = render((tmp_path / "report.html").as_uri(), tmp_path / "report.png")
    assert rendered.errors == [] and rendered.requests == []
    assert all(rendered.charts[name] > 0 for name in ("touchpoints_by_stage", "friction_by_kind", "funnel_checkout",
                                                      "funnel_signup", "cx_over_time", "top_friction_places",
                                                      "emotion_nps"))  # fmt: skip

    # the journey map by persona shows the personas as the simulator made them (personas.py)
    command = [sys.executable, "-c", "from journey.cli.app import app; app()", "map", "--segment", "persona", "--json"]
    printed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr[-3000:]
    journey_map = orjson.loads(printed.stdout)["segments"]
    assert {"explorer", "self_starter", "buyer", "struggler"} <= set(journey_map)

    def nps(persona: str) -> float:  # over every stage, weighted by answers
        answers = [c["sentiment"]["nps"] for c in journey_map[persona] if "nps" in c["sentiment"]]
        return sum(a["value"] * a["answers"] for a in answers) / sum(a["answers"] for a in answers)

    incident = settings.simulation.incident
    incident_place = f"{incident.flow} / {incident.step}"

    def pain_per_100(persona: str) -> float:
        """The top pain points of every stage, customers per 100 reaching it, outside the incident's step: the
        incident fails whoever pays in its hours, whatever their persona (a 300-customer demo can put more
        self-starters than strugglers there)."""
        return sum(p["customers_per_100"] or 0 for c in journey_map[persona] for p in c["pain_points"]
                   if p["place"] != incident_place)  # fmt: skip

    assert nps("struggler") + 30 < nps("self_starter"), (nps("struggler"), nps("self_starter"))  # NPS base 6.5 vs 9.2
    # rage clicks 0.35 vs 0.02, error loops 0.6 vs 0.1, trouble 0.85 vs 0.08
    assert pain_per_100("struggler") > 2 * pain_per_100("self_starter"), (
        pain_per_100("struggler"),
        pain_per_100("self_starter"),
    )


def test_ctrl_c_stops_the_demo_cleanly(settings: Settings, tmp_path: Path) -> None:
    env = demo_env(settings, 3000)
    process = demo(env, tmp_path)
    lines = []
    for line in process.stdout:  # wait until it publishes
        lines.append(line)
        if "starting journey run" in line:
            break
    time.sleep(12)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, "".join(lines) + output
    assert "data kept for the next run" in output
    with pytest.raises(OSError):  # its `journey run` stopped too: nothing answers on its web port
        socket.create_connection(("127.0.0.1", int(env["JOURNEY_WORKER__WEB_PORT"])), timeout=2).close()
