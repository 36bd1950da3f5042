"""A real single-node Apache Kafka (KRaft, broker + controller) on loopback, for the demo,
the tests and CI.

The broker's jars come from Maven Central through `mvn dependency:copy-dependencies` on the
pom beside this file, cached in `stack.jar_cache_dir` (a second run reuses them). The broker
runs detached with the machine's Java (17+), writes its log to `<data_dir>/broker.log` and its
pid to `<data_dir>/broker.pid`, so `journey stack down|status` work from another process.

With `stack.secure` the one client listener is SASL_SSL (SCRAM-SHA-512 over TLS): a CA and broker
certificate of its own (journey/cli/localstack/tls.py), and two SCRAM users made by Kafka's storage
tool when it formats the storage: `admin` (the broker's own inter-broker login) and
`stack.client_username`, with generated passwords kept in `<data_dir>/credentials/` (mode 600).
`<data_dir>/client.env` then holds the JOURNEY_KAFKA__* settings a client needs. The controller
listener stays PLAINTEXT on loopback (KRaft's own traffic, one node).

Also runnable as a script: `python -m journey.cli.localstack.kafka up|down|status`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from journey.cli.localstack.tls import ensure_broker_tls
from journey.config import KafkaSettings, LocalStackSettings

POM_FILE = Path(__file__).with_name("pom.xml")
LOG4J_FILE = Path(__file__).with_name("log4j2.properties")
BROKER_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
MINIMUM_JAVA = 17
STOP_TIMEOUT_S = 30.0
SCRAM: Final = "SCRAM-SHA-512"
ADMIN_USER = "admin"  # the broker's inter-broker login on a secure stack


class StackError(RuntimeError):
    """The local stack could not be set up, started or stopped; the message says what to do."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap_servers: str
    answering: bool
    log_file: Path

    def describe(self) -> str:
        if not self.running:
            return f"kafka: stopped (log: {self.log_file})"
        state = "answering" if self.answering else "NOT answering"
        return f"kafka: running pid {self.pid} on {self.bootstrap_servers}, {state} (log: {self.log_file})"


def _progress(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


class LocalKafka:
    """Fetch, format, start, probe and stop the local broker described by `settings`."""

    def __init__(self, settings: LocalStackSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.jar_dir = (settings.jar_cache_dir / settings.kafka_version).resolve()
        self.log_file = self.data_dir / "broker.log"
        self.pid_file = self.data_dir / "broker.pid"
        self.properties_file = self.data_dir / "server.properties"
        self.log_dirs = self.data_dir / "logs"
        self.credentials_dir = self.data_dir / "credentials"
        self.client_env_file = self.data_dir / "client.env"
        self.mode_file = self.data_dir / "security"  # the listener's protocol, fixed at format time

    # -- security -----------------------------------------------------------------------------
    @property
    def protocol(self) -> str:
        """What `up` formats and starts: stack.secure."""
        return "SASL_SSL" if self.settings.secure else "PLAINTEXT"

    @property
    def formatted_protocol(self) -> str:
        """What the storage was formatted for (`status` and `down` follow it), else `protocol`."""
        return self.mode_file.read_text().strip() if self.mode_file.exists() else self.protocol

    def _password(self, user: str) -> str:
        """The user's SCRAM password, generated on first use."""
        self.credentials_dir.mkdir(parents=True, exist_ok=True)
        self.credentials_dir.chmod(0o700)
        path = self.credentials_dir / f"{user}.password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def client_settings(self) -> KafkaSettings:
        """What a client of this broker sets (`kafka.*`): plain, or SCRAM over TLS as the client user."""
        if self.formatted_protocol != "SASL_SSL":
            return KafkaSettings(bootstrap_servers=self.settings.bootstrap_servers)
        tls = ensure_broker_tls(self.data_dir / "tls", self.settings.host)
        return KafkaSettings(
            bootstrap_servers=self.settings.bootstrap_servers, security_protocol="SASL_SSL", sasl_mechanism=SCRAM,
            sasl_username=self.settings.client_username, sasl_password=SecretStr(self._password(self.settings.client_username)),
            ssl_ca_location=tls.ca_file,
        )  # fmt: skip

    def _write_client_env(self) -> None:
        client = self.client_settings()
        lines = [f"JOURNEY_KAFKA__BOOTSTRAP_SERVERS={client.bootstrap_servers}",
                 f"JOURNEY_KAFKA__SECURITY_PROTOCOL={client.security_protocol}"]  # fmt: skip
        if client.security_protocol == "SASL_SSL":
            lines += [f"JOURNEY_KAFKA__SASL_MECHANISM={client.sasl_mechanism}",
                      f"JOURNEY_KAFKA__SASL_USERNAME={client.sasl_username}",
                      f"JOURNEY_KAFKA__SASL_PASSWORD={client.sasl_password.get_secret_value()}",  # type: ignore[union-attr]
                      f"JOURNEY_KAFKA__SSL_CA_LOCATION={client.ssl_ca_location}"]  # fmt: skip
        self.client_env_file.write_text("\n".join(f"export {line}" for line in lines) + "\n")
        self.client_env_file.chmod(0o600)

    def _listener_properties(self) -> list[str]:
        s = self.settings
        if not s.secure:
            return [
                f"listeners=PLAINTEXT://{s.host}:{s.broker_port},CONTROLLER://{s.host}:{s.controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.host}:{s.broker_port}",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        tls = ensure_broker_tls(self.data_dir / "tls", s.host)
        login = f'username="{ADMIN_USER}" password="{self._password(ADMIN_USER)}"'
        return [
            f"listeners=SASL_SSL://{s.host}:{s.broker_port},CONTROLLER://{s.host}:{s.controller_port}",
            f"advertised.listeners=SASL_SSL://{s.host}:{s.broker_port}",
            "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            f"sasl.enabled.mechanisms={SCRAM}",
            f"sasl.mechanism.inter.broker.protocol={SCRAM}",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            f"org.apache.kafka.common.security.scram.ScramLoginModule required {login};",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={tls.keystore_file}",
            f"ssl.keystore.password={tls.keystore_password}",
            f"ssl.key.password={tls.keystore_password}",
            "ssl.truststore.type=PEM",  # the broker's own inter-broker connections trust the CA
            f"ssl.truststore.location={tls.ca_file}",
        ]

    # -- jars ---------------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Download the broker's jars once; later calls return the cache."""
        marker = self.jar_dir / ".complete"
        if marker.exists():
            return self.jar_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("Maven (mvn) is not installed: `apt-get install maven` (or run `make test`, which does)")
        _progress(f"fetching Apache Kafka {self.settings.kafka_version} jars from Maven Central into {self.jar_dir}")
        partial = self.jar_dir.with_name(self.jar_dir.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        command = [
            mvn, "-q", "-B", "-f", str(POM_FILE), "dependency:copy-dependencies",
            f"-Dkafka.version={self.settings.kafka_version}",
            f"-DoutputDirectory={partial}", "-DincludeScope=runtime",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
            raise StackError(f"fetching Kafka jars failed (mvn exit {result.returncode}):\n{result.stdout[-3000:]}")
        shutil.rmtree(self.jar_dir, ignore_errors=True)
        partial.rename(self.jar_dir)
        marker.write_text(self.settings.kafka_version)
        _progress(f"{len(list(self.jar_dir.glob('*.jar')))} jars cached")
        return self.jar_dir

    # -- java ---------------------------------------------------------------------------------
    @staticmethod
    def java_executable() -> str:
        java_home = os.environ.get("JAVA_HOME")
        java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if not java or not Path(java).exists():
            raise StackError("Java 17+ is not installed: `apt-get install openjdk-17-jre-headless`")
        version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        try:
            major = int(version.split('"')[1].split(".")[0])
        except (IndexError, ValueError):
            raise StackError(f"cannot read the Java version from: {version!r}") from None
        if major < MINIMUM_JAVA:
            raise StackError(f"Kafka 4 needs Java {MINIMUM_JAVA}+, found {major} at {java}")
        return java

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            self.java_executable(),
            f"-Xms{self.settings.heap}", f"-Xmx{self.settings.heap}",
            "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_FILE}",
            # Log4j's own shutdown hook would stop logging before Kafka's shutdown finishes.
            "-Dlog4j2.shutdownHookEnabled=false",
            "-cp", f"{self.jar_dir}/*", main_class, *args,
        ]  # fmt: skip

    # -- storage ------------------------------------------------------------------------------
    def _write_properties(self) -> None:
        s = self.settings
        self.properties_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{s.host}:{s.controller_port}",
                    *self._listener_properties(),
                    "controller.listener.names=CONTROLLER",
                    f"log.dirs={self.log_dirs}",
                    # One node: internal topics cannot be replicated.
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # Groups start at once instead of waiting 3 s for more members (tests, demo).
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "num.partitions=1",
                ]
            )
            + "\n"
        )
        self.properties_file.chmod(0o600)  # a secure stack's keystore and admin passwords are in it

    def _format_storage(self) -> None:
        if (self.log_dirs / "meta.properties").exists():
            formatted = self.mode_file.read_text().strip() if self.mode_file.exists() else "PLAINTEXT"
            if formatted != self.protocol:
                raise StackError(
                    f"the broker's storage in {self.data_dir} was formatted for {formatted}, not {self.protocol}: "
                    f"set stack.secure (JOURNEY_STACK__SECURE) {'true' if formatted == 'SASL_SSL' else 'false'}, "
                    "or `journey stack down` and delete that directory, or use another stack.data_dir"
                )
            return
        _progress(f"formatting KRaft storage in {self.log_dirs}")
        cluster_id = _kafka_cluster_id()
        # `--cluster-id=ID`, not `-t ID`: a base64url id may start with "-" (1 in 64), which the
        # tool's argument parser takes for an option (found when a test run failed to format).
        command = self._java_command(
            STORAGE_TOOL_CLASS, "format", f"--cluster-id={cluster_id}", "-c", str(self.properties_file)
        )
        if self.settings.secure:  # SCRAM users are made by Kafka's own storage tool, with the storage
            for user in (ADMIN_USER, self.settings.client_username):
                command += ["--add-scram", f"{SCRAM}=[name={user},password={self._password(user)}]"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"formatting KRaft storage failed:\n{result.stdout}{result.stderr}")
        self.mode_file.write_text(self.protocol)

    # -- lifecycle ----------------------------------------------------------------------------
    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and BROKER_MAIN_CLASS.encode() not in cmdline.read_bytes():
            return None  # the pid was reused by another program
        return pid

    def _port_answers(self) -> bool:
        try:
            with socket.create_connection((self.settings.host, self.settings.broker_port), timeout=1):
                return True
        except OSError:
            return False

    def _metadata_answers(self, timeout_s: float = 5.0) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({**self.client_settings().confluent_config(), "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=timeout_s)
            return bool(metadata.brokers)
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False

    def up(self) -> BrokerStatus:
        """Start the broker unless it runs; return once it answers metadata requests."""
        if self._pid() is not None:
            _progress(f"kafka already running on {self.settings.bootstrap_servers}")
            return self.status()
        if self._port_answers():
            raise StackError(
                f"port {self.settings.broker_port} on {self.settings.host} is taken by another program; "
                "set stack.broker_port (JOURNEY_STACK__BROKER_PORT) to a free port"
            )
        self.ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        self._format_storage()
        self._write_client_env()
        _progress(
            f"starting kafka {self.settings.kafka_version} on {self.settings.bootstrap_servers} ({self.protocol})"
        )
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                self._java_command(BROKER_MAIN_CLASS, str(self.properties_file)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it; `stack down` stops it
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"kafka exited with code {process.returncode} at start:\n{self._log_tail()}")
            if self._port_answers() and self._metadata_answers():
                _progress(f"kafka answering on {self.settings.bootstrap_servers}")
                return self.status()
            time.sleep(0.5)
        self.down()
        raise StackError(f"kafka did not answer within {self.settings.start_timeout_s:.0f}s:\n{self._log_tail()}")

    def down(self) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after a timeout); True if it stopped cleanly."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return True
        _progress(f"stopping kafka (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and self._pid() is not None:
            time.sleep(0.2)
        clean = self._pid() is None
        if not clean:
            _progress("kafka did not stop in time; killing it")
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return clean

    def status(self) -> BrokerStatus:
        pid = self._pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap_servers=self.settings.bootstrap_servers,
            answering=pid is not None and self._metadata_answers(timeout_s=3),
            log_file=self.log_file,
        )

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no broker log)"


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (for test and benchmark brokers and workers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kafka_cluster_id() -> str:
    """A random cluster id in Kafka's format: 16 bytes, URL-safe base64 without padding."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


if __name__ == "__main__":
    from journey.config import load_settings

    action = sys.argv[1] if len(sys.argv) > 1 else "status"
    stack = LocalKafka(load_settings().stack)
    if action == "up":
        print(stack.up().describe())
    elif action == "down":
        stack.down()
    elif action == "status":
        print(stack.status().describe())
    else:
        sys.exit("usage: python -m journey.cli.localstack.kafka up|down|status")
