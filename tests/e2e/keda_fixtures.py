"""Fixtures for the e2e tests with KEDA's own operator against the real control plane.

`keda_operator` (session): KEDA's CRDs from the pinned Go module (tests/e2e/keda/crds.sh)
applied server-side, then the operator built by scripts/e2e-bins.sh run as a host process
the way `make run` runs it in KEDA's repo (WATCH_NAMESPACE empty = all namespaces), with a
self-signed certificate for its metrics gRPC service. Without KEDA's metrics adapter the
operator alone moves a target between 0 and minReplicaCount (here 1): that is the
scale-to-zero path these tests measure.

The cluster is conftest's `cluster` (scripts/e2e.sh brings it up). Import with
`from keda_fixtures import *`.

`SessionPublisher` and `PrometheusServer` feed ballast's other two sources for the KEDA
scenarios: a WebSocket publisher of session counters (a raw client: the machine's Python has
no WebSocket module) and Debian's real Prometheus scraping an exporter served from here.
"""

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kafka_fixtures import ROOT, free_port, shared, terminate, wait_for


def kubectl_binary():
    tools = Path(os.environ.get("BALLAST_TOOLS_DIR", ROOT / "tools" / "bin")) / "kubectl"
    return str(tools) if tools.exists() else shutil.which("kubectl")


class Kube:
    """kubectl with one kubeconfig."""

    def __init__(self, kubeconfig):
        self.kubeconfig = str(kubeconfig)
        self.binary = kubectl_binary()

    def __call__(self, *args, input=None, check=True):
        done = subprocess.run([self.binary, "--kubeconfig", self.kubeconfig, *args], input=input,
                              capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def apply(self, manifest):
        return self("apply", "--server-side", "-f", "-", input=manifest)

    def replicas(self, namespace, deployment):
        out = self("get", "deployment", deployment, "-n", namespace, "-o", "jsonpath={.spec.replicas}")
        return int(out or 0)


def self_signed_cert(directory):
    """ca.crt, tls.crt, tls.key: KEDA's metrics gRPC service loads them even without rotation."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-days", "2",
                    "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt"),
                    "-subj", "/CN=keda-operator", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    shutil.copy(directory / "tls.crt", directory / "ca.crt")


class KedaOperator:
    def __init__(self, kube, workdir):
        self.kube = kube
        bins = subprocess.run([str(ROOT / "scripts" / "e2e-bins.sh")], capture_output=True, text=True)
        if bins.returncode != 0:
            pytest.fail(f"scripts/e2e-bins.sh failed:\n{bins.stderr[-3000:]}")
        self.binary = Path(bins.stdout.strip()) / "keda-operator"
        crds = subprocess.run([str(ROOT / "tests" / "e2e" / "keda" / "crds.sh")], capture_output=True,
                              text=True, check=True).stdout.strip()
        kube("apply", "--server-side", "-f", crds)
        wait_for("the ScaledObject CRD to be Established", lambda: kube(
            "get", "crd", "scaledobjects.keda.sh", "-o",
            "jsonpath={.status.conditions[?(@.type=='Established')].status}", check=False).strip() == "True", 60)
        kube("create", "namespace", "keda", check=False)
        certs = Path(workdir) / "certs"
        self_signed_cert(certs)
        self.health = f"127.0.0.1:{free_port()}"
        self.log_path = Path(workdir) / "keda-operator.log"
        self.log = open(self.log_path, "w")
        env = dict(os.environ, KUBECONFIG=kube.kubeconfig, WATCH_NAMESPACE="", POD_NAMESPACE="keda",
                   KEDA_CLUSTER_OBJECT_NAMESPACE="keda", OPERATOR_NAME="keda-operator")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(self.binary), "--leader-elect=false", "--zap-log-level=info", "--zap-encoder=console",
             "--metrics-bind-address=0", f"--health-probe-bind-address={self.health}",
             f"--metrics-service-bind-address=127.0.0.1:{free_port()}", f"--cert-dir={certs}",
             "--enable-cert-rotation=false", "--enable-webhook-patching=false",
             "--enable-apiservice-patching=false"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("keda-operator /readyz", self._ready, timeout=60)
        self.startup_seconds = time.monotonic() - started

    def _ready(self):
        if self.process.poll() is not None:
            pytest.fail(f"keda-operator exited with {self.process.returncode}:\n{self.log_path.read_text()[-4000:]}")
        done = subprocess.run(["curl", "-sf", f"http://{self.health}/readyz"], capture_output=True)
        return done.returncode == 0

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def stop(self):
        terminate(self.process)
        self.log.close()


@pytest.fixture(scope="session")
def kube(cluster):
    return Kube(cluster.admin.kubeconfig)


def _start_operator(kube, tmp_path_factory):
    operator = KedaOperator(kube, tmp_path_factory.mktemp("keda"))
    print(f"\n[timing] keda-operator ready in {operator.startup_seconds:.1f} s")
    return operator


@pytest.fixture(scope="session")
def keda_operator(kube, tmp_path_factory):
    yield from shared("keda_operator", lambda: _start_operator(kube, tmp_path_factory), KedaOperator.stop)


class _Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "".join(f"{name} {value}\n" for name, value in self.server.gauges.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class PrometheusServer:
    """Debian's prometheus (as tests/integration/prom_test.cc starts it) scraping, every
    second, an exporter whose gauges the test sets."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.exporter = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
        self.exporter.gauges = {}
        threading.Thread(target=self.exporter.serve_forever, daemon=True).start()
        self.port = free_port()
        (self.workdir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n  - job_name: exporter\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{self.exporter.server_port}']}}]\n")
        self.log = open(self.workdir / "prometheus.log", "w")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={self.workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"], stdout=self.log, stderr=subprocess.STDOUT)
        self.address = f"http://127.0.0.1:{self.port}"
        wait_for("prometheus ready", self._ready, 60)

    def _ready(self):
        try:
            with urllib.request.urlopen(f"{self.address}/-/ready", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def set(self, name, value):
        self.exporter.gauges[name] = value

    def value(self, query):
        """What Prometheus answers for `query` now (None before the first scrape)."""
        url = f"{self.address}/api/v1/query?query={urllib.parse.quote(query)}"
        with urllib.request.urlopen(url, timeout=2) as answer:
            result = json.load(answer)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        terminate(self.process)
        self.log.close()
        self.exporter.shutdown()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is missing (Debian package prometheus)")
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()
