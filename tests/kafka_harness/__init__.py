"""A throwaway Apache Kafka 4 broker for tests: the real broker (KRaft, no ZooKeeper), started for real.

Why a JVM and not a fake: what the event path promises (``acks=all`` acknowledgements, idempotent
produce, consumer-group offsets committed after the store write, redelivery after a kill -9) is the
broker's behaviour; a fake would only echo our assumptions.

- The jars (``pom.xml``: ``org.apache.kafka:kafka_2.13``) are resolved by Maven once, into its local
  repository; the classpath is cached under ``~/.cache/graphrec/kafka-harness`` keyed by the pom's hash,
  so a second run starts without Maven and without the network.
- One node is broker and controller (``process.roles=broker,controller``) on two free loopback ports; its
  log directory, in a temporary directory, is formatted first (``kafka.tools.StorageTool format``), then
  the broker runs (``kafka.Kafka server.properties``). Ready means a client got the cluster's metadata.
- The JVM dies with its parent: ``PR_SET_PDEATHSIG`` kills it when the test process dies; ``stop()``
  terminates it (SIGTERM: a clean shutdown), then kills it past a deadline, and removes the directory.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from jvm_harness import await_exit, die_with_parent, maven_classpath

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"


def _cluster_id() -> str:
    """A random cluster id in Kafka's form (url-safe base64 of 16 bytes) that does not start with ``-``:
    the storage tool would read such an id as an option (Kafka's own ``Uuid.randomUuid`` redraws it too)."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster_id


class KafkaHarnessError(RuntimeError):
    """The test broker could not be resolved or started; the message says what to install or read."""


def classpath() -> str:
    """The broker's classpath, from the cache when every jar is still there, else from Maven."""
    return maven_classpath(POM, cache="kafka-harness", what="Kafka", error=KafkaHarnessError)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _properties(port: int, controller_port: int, logs: Path) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={logs}",
            # one node: every internal topic with one replica, and no wait before the first group rebalance
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "group.initial.rebalance.delay.ms=0",
            "num.partitions=1",
            "auto.create.topics.enable=false",  # tests create their topics: a typo is an error, not a topic
            "",
        ]
    )


@dataclass
class KafkaHarness:
    """One running test broker; use as a context manager or call :meth:`start` / :meth:`stop`.

    ``start_s``: how long the broker may take to answer (the caller's deadline, ``tests/deadlines.py``)."""

    start_s: float
    heap: str = os.environ.get("GRAPHREC_KAFKA_HEAP", "512m")
    bootstrap: str = ""
    _proc: subprocess.Popen[bytes] | None = None
    _work: Path | None = None
    _log: Path | None = None

    def start(self) -> KafkaHarness:
        java = shutil.which("java")
        if java is None:
            raise KafkaHarnessError("Java 17+ (java on PATH) is needed to run the test Kafka")
        cp = classpath()
        self._work = Path(tempfile.mkdtemp(prefix="graphrec-kafka-"))
        self._log = self._work / "broker.log"
        port, controller_port = _free_port(), _free_port()
        config = self._work / "server.properties"
        config.write_text(_properties(port, controller_port, self._work / "logs"))
        # client compiler only, as the test Neo4j (tests/neo4j_harness JVM_OPTIONS): a faster start, and a
        # short life that C2's compilations would never pay back
        jvm = [java, f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError"]
        jvm += ["-cp", cp]
        cluster_id = _cluster_id()
        fmt = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=self.start_s,
            preexec_fn=die_with_parent,
        )
        if fmt.returncode != 0:
            self._cleanup()
            raise KafkaHarnessError(f"formatting the test Kafka's log directory failed:\n{fmt.stderr[-3000:]}")
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        self.bootstrap = f"127.0.0.1:{port}"
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Until a client gets the cluster's metadata with this broker in it; past ``start_s``, the
        harness error with the broker's log."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + self.start_s
        host, port = self.bootstrap.rsplit(":", 1)
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                self._fail(f"the test Kafka exited with {self._proc.returncode} while starting")
            try:  # the port first: librdkafka retries a closed port noisily in its own log
                socket.create_connection((host, int(port)), timeout=1).close()
            except OSError:
                time.sleep(0.2)
                continue
            admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
            try:
                if admin.list_topics(timeout=5).brokers:
                    return
            except Exception:  # KafkaException while the controller elects itself: try again
                time.sleep(0.2)
        self._fail(f"the test Kafka did not answer within {self.start_s:g} s (tests/deadlines.py START_S)")

    def _fail(self, what: str) -> None:
        tail = self._log.read_bytes()[-3000:].decode(errors="replace") if self._log and self._log.exists() else ""
        self.stop()
        raise KafkaHarnessError(f"{what}; its log ends:\n{tail}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: the broker's shutdown hook closes its logs cleanly
            await_exit(proc)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> KafkaHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
