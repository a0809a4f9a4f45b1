"""Fixtures for the e2e tests on a real Apache Kafka broker and a host-process ballast.

`kafka_broker` (session): one KRaft broker from scripts/e2e-kafka.sh, plus the client
actions the tests need (kcat for produce/consume, Kafka's own Java tools for topics,
committed offsets, DeleteRecords and group descriptions: the same tools operators use).
`ballast_scaler` (module): `ballast serve --components scaler` on free loopback ports;
`probe(...)` makes KEDA's GetMetricSpec → GetMetrics → IsActive calls through
`ballast probe --output json` (the machine's Python has no gRPC module).

Import the fixtures into a test module with `from kafka_fixtures import *`.
"""

import json
import os
import re
import shlex
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BALLAST_BUILD_DIR", ROOT / "build"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def percentiles(samples):
    """n, p50, p95, p99, max and mean of a list of latencies (nearest rank)."""
    ordered = sorted(samples)

    def at(q):
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
    return {"n": len(ordered), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}


def wait_for(what, predicate, timeout, interval=0.2):
    """Polls predicate() until it returns a truthy value; returns it, or fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


def terminate(process, timeout=20):
    """SIGTERM, then SIGKILL if the process has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def librdkafka_version():
    """The librdkafka ballast was built against (pkg-config), else the one kcat links."""
    done = subprocess.run(["pkg-config", "--modversion", "rdkafka"], capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(["kcat", "-V"], capture_output=True, text=True)
    found = re.search(r"(?:librdkafka |^)(\d+)\.(\d+)\.(\d+)", done.stdout, re.M)
    return tuple(int(x) for x in found.groups()) if found else (0,)


class KafkaBroker:
    """A broker started by scripts/e2e-kafka.sh; stop()/start() make an outage."""

    def __init__(self, state_root):
        self.env = dict(os.environ, BALLAST_E2E_DIR=str(state_root))
        self.script = str(ROOT / "scripts" / "e2e-kafka.sh")
        started = time.monotonic()
        self._load(self._run("up"))
        self.startup_seconds = time.monotonic() - started

    def _run(self, *args):
        done = subprocess.run([self.script, *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"e2e-kafka.sh {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def _load(self, env_text):
        values = dict(re.findall(r"^export (\w+)=(.*)$", env_text, re.M))
        self.bootstrap = values["KAFKA_BOOTSTRAP"]
        self.sasl_bootstrap = values["KAFKA_SASL_BOOTSTRAP"]
        self.scram_user = values["KAFKA_SCRAM_USER"]
        self.scram_password = values["KAFKA_SCRAM_PASSWORD"]
        self.lib = values["KAFKA_LIB"]
        self.state_dir = Path(values["KAFKA_STATE_DIR"])

    def stop(self):
        self._run("stop")

    def start(self):
        self._run("start")

    def down(self):
        self._run("down")

    # --- clients -------------------------------------------------------------------------

    def tool(self, main_class, *args, check=True):
        """One of Kafka's own command-line tools (the class behind bin/kafka-*.sh)."""
        command = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
                   "-cp", f"{self.lib}/*", main_class, "--bootstrap-server", self.bootstrap, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{main_class} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def create_topic(self, topic, partitions=1):
        self.tool("org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
                  "--partitions", str(partitions), "--replication-factor", "1")

    def delete_topic(self, topic):
        self.tool("org.apache.kafka.tools.TopicCommand", "--delete", "--topic", topic)

    def produce(self, topic, count, partition=None):
        """Produces `count` records (acks=all) and returns once the broker has them."""
        command = ["kcat", "-P", "-b", self.bootstrap, "-t", topic, "-X", "acks=all"]
        if partition is not None:
            command += ["-p", str(partition)]
        payload = "".join(f"record-{i}\n" for i in range(count))
        subprocess.run(command, input=payload, text=True, check=True, timeout=60)

    def commit(self, group, topic, offsets):
        """Commits {partition: offset} for an inactive group (kafka-consumer-groups --reset-offsets)."""
        for partition, offset in offsets.items():
            self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--reset-offsets",
                      "--group", group, "--topic", f"{topic}:{partition}", "--to-offset", str(offset), "--execute")

    def consume(self, group, topic):
        """A real group member (librdkafka via kcat) reads to the end and commits on close."""
        subprocess.run(["kcat", "-b", self.bootstrap, "-G", group, "-o", "beginning", "-e", "-q",
                        "-X", "enable.auto.commit=true", topic],
                       capture_output=True, text=True, check=True, timeout=60)

    def delete_group(self, group):
        """Deletes an inactive group and its committed offsets (kafka-consumer-groups --delete)."""
        self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--delete", "--group", group)

    def delete_records(self, topic, partition, before_offset):
        spec = Path(tempfile.mkstemp(suffix=".json")[1])
        spec.write_text(json.dumps({"version": 1, "partitions": [
            {"topic": topic, "partition": partition, "offset": before_offset}]}))
        try:
            self.tool("org.apache.kafka.tools.DeleteRecordsCommand", "--offset-json-file", str(spec))
        finally:
            spec.unlink()

    def describe_group(self, group):
        """Kafka's own view: {(topic, partition): (committed or None, log_end)}."""
        out = self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--describe",
                        "--group", group, check=False)
        rows = {}
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[0] == group and fields[2].isdigit():
                committed = None if fields[3] == "-" else int(fields[3])
                rows[(fields[1], int(fields[2]))] = (committed, int(fields[4]))
        return rows


_shared = {}


def shared(key, make, close):
    """One instance per session, however many test modules import the fixture: a fixture
    imported into two modules is two fixture definitions to pytest, each with its own
    session cache. The last user closes it."""
    entry = _shared.get(key)
    if entry is None:
        entry = _shared[key] = [make(), 0]
    entry[1] += 1
    try:
        yield entry[0]
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            del _shared[key]
            close(entry[0])


def _start_broker(tmp_path_factory):
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-e2e"))
    print(f"\n[timing] kafka broker up in {broker.startup_seconds:.1f} s at {broker.bootstrap}")
    return broker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    yield from shared("kafka_broker", lambda: _start_broker(tmp_path_factory), KafkaBroker.down)


class ScalerProbe:
    """`ballast probe` against one scaler: KEDA's calls in KEDA's order, JSON output."""

    def __init__(self, grpc_address):
        self.binary = self.binary_path()
        self.grpc_address = grpc_address

    @staticmethod
    def binary_path():
        return Path(os.environ.get("BALLAST_BIN", BUILD / "src" / "app" / "ballast"))

    def probe_args(self, name, metadata, namespace="e2e", watch=False):
        """`ballast probe` with JSON output for one trigger of this scaler."""
        args = [str(self.binary), "probe", "--output", "json", "--scaler", self.grpc_address,
                "--namespace", namespace, "--name", name] + (["--watch"] if watch else [])
        for key, value in metadata.items():
            args += ["--metadata", f"{key}={value}"]
        return args

    def probe(self, name, metadata, namespace="e2e"):
        """One KEDA poll: {'spec': {...}, 'metrics': {'code', 'value'?}, 'active': {'code', 'result'?}}.
        Exit 1 only says a call answered an error, which the output carries."""
        args = self.probe_args(name, metadata, namespace)
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"ballast probe exited {done.returncode}: {shlex.join(args)}\n{done.stderr}")
        return json.loads(done.stdout)


class BallastProcess(ScalerProbe):
    """`ballast serve` with only the scaler, on free loopback ports; stopped with SIGTERM."""

    def __init__(self, workdir, config_text=""):
        self.binary = self.binary_path()
        if not self.binary.exists():
            pytest.fail(f"{self.binary} is missing: build the ballast target first")
        self.grpc_address = f"127.0.0.1:{free_port()}"
        self.admin_address = f"127.0.0.1:{free_port()}"
        self.config = Path(workdir) / "ballast.yaml"
        self.config.write_text(config_text)
        self.log_path = Path(workdir) / "ballast.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config), "--components", "scaler",
             "--grpc-address", self.grpc_address, "--admin-address", self.admin_address, "--log-level", "debug"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("ballast /readyz", self._ready, timeout=30)

    def _ready(self):
        if self.process.poll() is not None:
            pytest.fail(f"ballast exited with {self.process.returncode}; log:\n{self.log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://{self.admin_address}/readyz", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def metric(self, name, metadata):
        """The GetMetrics value, or None when the call failed."""
        polled = self.probe(name, metadata)
        return polled.get("metrics", {}).get("value")

    def aborted_in_librdkafka(self):
        """The assertion librdkafka aborts the process with, when it did; else None."""
        if self.process.poll() is None:
            return None
        self.log.flush()
        found = re.search(r"^ballast: (rd[a-z_]*\.[ch]:\d+: .*Assertion.*)$", self.log_path.read_text(), re.M)
        return found.group(1) if found else None

    def stop(self):
        terminate(self.process)
        self.log.close()


def sasl_profile(workdir, kafka_broker, name, mechanism):
    """ballast config text with one SASL auth profile for the broker's SASL listener."""
    password_file = Path(workdir) / f"{name}-password"
    password_file.write_text(kafka_broker.scram_password)
    return (
        "auth:\n"
        f"  {name}:\n"
        "    sasl:\n"
        f"      mechanism: {mechanism}\n"
        f"      username: {kafka_broker.scram_user}\n"
        f"      passwordFile: {password_file}\n"
    )


@pytest.fixture(scope="module")
def ballast_scaler(tmp_path_factory, kafka_broker):
    """A ballast whose config holds one SASL/PLAIN auth profile (`e2e-plain`) for the broker's
    SASL listener."""
    workdir = tmp_path_factory.mktemp("ballast")
    process = BallastProcess(workdir, sasl_profile(workdir, kafka_broker, "e2e-plain", "PLAIN"))
    yield process
    process.stop()
