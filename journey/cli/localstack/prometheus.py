"""A local Prometheus (the Debian package's binary) scraping the pipeline's processes on loopback
and evaluating the project's alert rules, rendered from the settings: `journey stack up
--prometheus`, and the live alert test. Runs detached like the broker: config, rules, data, log
and pid under `stack.prometheus_data_dir`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from journey.cli.dashboards.alerts import prometheus_rules
from journey.cli.localstack.kafka import StackError, _progress
from journey.config import Settings

STOP_TIMEOUT_S = 15.0
START_TIMEOUT_S = 30.0


class LocalPrometheus:
    def __init__(self, settings: Settings, targets: dict[str, list[str]] | None = None,
                 scrape_interval_s: float = 5.0) -> None:  # fmt: skip
        """`targets`: job → host:port list; by default the worker's web port (its /metrics/) and
        the sink's metrics port from the settings."""
        self.settings = settings
        stack = settings.stack
        self.port = stack.prometheus_port
        self.data_dir = stack.prometheus_data_dir.resolve()
        self.targets = targets or {
            "journey-worker": [f"127.0.0.1:{settings.worker.web_port}"],
            "journey-sink": [f"127.0.0.1:{settings.sink.metrics_port}"],
        }
        self.scrape_interval_s = scrape_interval_s
        self.pid_file = self.data_dir / "prometheus.pid"
        self.log_file = self.data_dir / "prometheus.log"
        self.url = f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        rules = self.data_dir / "journey.rules.yml"
        rules.write_text(yaml.safe_dump(prometheus_rules(self.settings), sort_keys=False))
        interval = f"{self.scrape_interval_s:g}s"
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(rules)],
            "scrape_configs": [
                # the worker serves /metrics/ (Faust's web routes end with a slash); the sink /metrics
                {"job_name": job, "metrics_path": "/metrics/" if job == "journey-worker" else "/metrics",
                 "static_configs": [{"targets": hosts}]}
                for job, hosts in self.targets.items()
            ],
        }  # fmt: skip
        path = self.data_dir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def up(self) -> str:
        binary = shutil.which("prometheus")
        if binary is None:
            raise StackError("prometheus is not installed: apt-get install prometheus (scripts/bootstrap.sh does)")
        if self._pid() is not None:
            self.down()  # its config may be another one: start afresh
        config = self._write_config()
        _progress(f"starting prometheus on {self.url}, scraping {self.targets}")
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={self.data_dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"prometheus exited with code {process.returncode}; see {self.log_file}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except OSError:
                pass
            time.sleep(0.3)
        self.down()
        raise StackError(f"prometheus did not get ready within {START_TIMEOUT_S:.0f}s; see {self.log_file}")

    def down(self) -> None:
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline and self._pid() is not None:
                time.sleep(0.2)
            if self._pid() is not None:
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    # -- HTTP API -------------------------------------------------------------------------------
    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise StackError(f"prometheus {path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts: labels, state, value."""
        return self.api("alerts")["alerts"]
