"""Start and stop `journey worker` (or `journey run`) as a child process (the demo, benchmarks and
tests use it)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson

from journey.config import Settings

READY_MARK = b"worker ready:"  # streams.worker.READY
READY_TIMEOUT_S = 90.0


def metric_sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text exposition, 0 when absent (labels in sorted order,
    as prometheus-client writes them)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$" if labels else rf"^{re.escape(name)} (\S+)$"
    match = re.search(pattern, exposition, re.M)
    return float(match.group(1)) if match else 0.0


def broker_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus what a `journey` subprocess needs to reach the same broker
    and topics as `settings`."""
    kafka = settings.kafka
    env = {
        **os.environ,
        "JOURNEY_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "JOURNEY_KAFKA__SECURITY_PROTOCOL": kafka.security_protocol,
        "JOURNEY_TOPICS__PREFIX": settings.topics.prefix,
        "JOURNEY_TOPICS__PARTITIONS": str(settings.topics.partitions),
    }
    for name, value in (("SASL_MECHANISM", kafka.sasl_mechanism), ("SASL_USERNAME", kafka.sasl_username),
                        ("SASL_PASSWORD", kafka.sasl_password and kafka.sasl_password.get_secret_value()),
                        ("SSL_CA_LOCATION", kafka.ssl_ca_location)):  # fmt: skip
        if value is not None:
            env[f"JOURNEY_KAFKA__{name}"] = str(value)
    return env


class WorkerProcess:
    """A worker for `settings`, logging to `<workdir>/worker.log`; extra settings as JOURNEY_* env.
    `command` is "worker" (the stream stages) or "run" (stages and the ClickHouse sink)."""

    def __init__(self, settings: Settings, workdir: Path, web_port: int, command: str = "worker", **env: str) -> None:
        self.command = command
        self.workdir = workdir
        self.web_port = web_port
        self.log_file = workdir / "worker.log"
        self.process: subprocess.Popen | None = None
        self.env = {**broker_env(settings), "JOURNEY_WORKER__WEB_PORT": str(web_port), **env}

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = [sys.executable, "-c", "from journey.cli.app import app; app()", self.command, "--loglevel", "info"]
        with self.log_file.open("ab") as log:
            # The caller's directory: relative paths in the settings mean the same to both.
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.process.returncode}:\n{self.log_tail()}")
            with self.log_file.open("rb") as log:
                log.seek(offset)
                if READY_MARK in log.read():
                    return
            time.sleep(0.3)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"{self.command} not ready within {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int:
        if self.process is None or self.process.poll() is not None:
            return 0 if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout_s)

    def fetch(self, path: str, timeout_s: float = 10) -> bytes:
        """GET a path of the worker's web server."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=timeout_s) as response:
            return response.read()

    def get(self, path: str, timeout_s: float = 10) -> dict:
        return orjson.loads(self.fetch(path, timeout_s))

    def metrics_text(self) -> str:
        return self.fetch("/metrics/").decode()

    def counter(self, name: str, **labels: str) -> float:
        """The value of one Prometheus sample of this worker, 0 when absent."""
        return metric_sample(self.metrics_text(), name, **labels)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
