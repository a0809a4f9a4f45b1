"""Fixtures for the e2e tests with KEDA's own operator against the real control plane.

`keda_operator` (session): KEDA's CRDs from the pinned Go module (tests/e2e/keda/crds.sh)
applied server-side, then the operator built by scripts/e2e-bins.sh run as a host process
the way `make run` runs it in KEDA's repo (WATCH_NAMESPACE empty = all namespaces), with a
self-signed certificate for its metrics gRPC service. The operator alone moves a target
between 0 and minReplicaCount (here 1): that is the scale-to-zero path most tests measure.

`keda_metrics_adapter` (module): KEDA's metrics adapter from the same module, registered as
the APIService for external.metrics.k8s.io, so that the HPA controller in
kube-controller-manager scales 1..N. Only the modules that ask for it start it.

The cluster is conftest's `cluster` (scripts/e2e.sh brings it up). Import with
`from keda_fixtures import *`.

`SessionPublisher` and `PrometheusServer` feed ballast's other two sources for the KEDA
scenarios: a WebSocket publisher of session counters (a raw client: the machine's Python has
no WebSocket module) and Debian's real Prometheus scraping an exporter served from here.
"""

import base64
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


def e2e_binary(name):
    """A binary scripts/e2e-bins.sh builds from the pinned modules (cached after the first run)."""
    bins = subprocess.run([str(ROOT / "scripts" / "e2e-bins.sh")], capture_output=True, text=True)
    if bins.returncode != 0:
        pytest.fail(f"scripts/e2e-bins.sh failed:\n{bins.stderr[-3000:]}")
    return Path(bins.stdout.strip()) / name


class HostProcess:
    """A test-only binary run on the host, its output in a log file."""

    def __init__(self, name, args, env, log_path):
        self.name, self.log_path = name, Path(log_path)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([str(arg) for arg in args], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def fail_if_exited(self):
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail(60)}")

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        terminate(self.process)
        self.log.close()


class KedaOperator:
    def __init__(self, kube, workdir):
        self.kube = kube
        crds = subprocess.run([str(ROOT / "tests" / "e2e" / "keda" / "crds.sh")], capture_output=True,
                              text=True, check=True).stdout.strip()
        kube("apply", "--server-side", "-f", crds)
        wait_for("the ScaledObject CRD to be Established", lambda: kube(
            "get", "crd", "scaledobjects.keda.sh", "-o",
            "jsonpath={.status.conditions[?(@.type=='Established')].status}", check=False).strip() == "True", 60)
        kube("create", "namespace", "keda", check=False)
        self.cert_dir = Path(workdir) / "certs"
        self_signed_cert(self.cert_dir)
        self.health = f"127.0.0.1:{free_port()}"
        self.metrics_service = f"127.0.0.1:{free_port()}"  # gRPC, read by the metrics adapter
        env = dict(os.environ, KUBECONFIG=kube.kubeconfig, WATCH_NAMESPACE="", POD_NAMESPACE="keda",
                   KEDA_CLUSTER_OBJECT_NAMESPACE="keda", OPERATOR_NAME="keda-operator")
        started = time.monotonic()
        self.host = HostProcess(
            "keda-operator",
            [e2e_binary("keda-operator"), "--leader-elect=false", "--zap-log-level=info", "--zap-encoder=console",
             "--metrics-bind-address=0", f"--health-probe-bind-address={self.health}",
             f"--metrics-service-bind-address={self.metrics_service}", f"--cert-dir={self.cert_dir}",
             "--enable-cert-rotation=false", "--enable-webhook-patching=false",
             "--enable-apiservice-patching=false"],
            env, Path(workdir) / "keda-operator.log")
        wait_for("keda-operator /readyz", self._ready, timeout=60)
        self.startup_seconds = time.monotonic() - started

    def _ready(self):
        self.host.fail_if_exited()
        done = subprocess.run(["curl", "-sf", f"http://{self.health}/readyz"], capture_output=True)
        return done.returncode == 0

    def log_tail(self, lines=40):
        return self.host.log_tail(lines)

    def stop(self):
        self.host.stop()


def host_address():
    """The host's first global IPv4 address: the apiserver refuses loopback endpoints, and with
    --enable-aggregator-routing it dials the endpoint of an APIService's Service itself."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                         text=True).stdout.split()
    addresses = [out[i + 1].split("/")[0] for i, word in enumerate(out) if word == "inet"]
    if not addresses:
        pytest.fail("KEDA's metrics adapter needs a non-loopback IPv4 address on this host (`ip -4 addr`)")
    return addresses[0]


EXTERNAL_METRICS_API = "v1beta1.external.metrics.k8s.io"
ADAPTER_SERVICE = "keda-metrics-apiserver"  # the name the cluster CA signed (scripts/e2e-cluster.sh)


class KedaMetricsAdapter:
    """KEDA's metrics adapter (`cmd/adapter` of the operator's module) as a host process, served
    to the HPA controller through the apiserver's aggregation layer: the APIService
    v1beta1.external.metrics.k8s.io, a selector-less Service keda/keda-metrics-apiserver and an
    EndpointSlice on the host's address. It reads metric values from the operator's gRPC
    metrics service (mTLS with the operator's certificate directory), and authenticates the
    apiserver's front-proxy requests through kube-system/extension-apiserver-authentication."""

    def __init__(self, kube, operator, pki, workdir):
        self.kube = kube
        address, port = host_address(), free_port()
        env = dict(os.environ, KUBECONFIG=kube.kubeconfig, WATCH_NAMESPACE="", POD_NAMESPACE="keda")
        started = time.monotonic()
        self.host = HostProcess(
            "keda-adapter",
            [e2e_binary("keda-adapter"), f"--bind-address={address}", f"--secure-port={port}",
             f"--tls-cert-file={pki / 'keda-adapter.crt'}", f"--tls-private-key-file={pki / 'keda-adapter.key'}",
             f"--cert-dir={operator.cert_dir}", f"--metrics-service-address={operator.metrics_service}",
             f"--lister-kubeconfig={kube.kubeconfig}", f"--authentication-kubeconfig={kube.kubeconfig}",
             f"--authorization-kubeconfig={kube.kubeconfig}", f"--port={free_port()}",
             "--zap-log-level=info", "--zap-encoder=console"],
            env, Path(workdir) / "keda-adapter.log")
        ca_bundle = base64.b64encode((pki / "ca.crt").read_bytes()).decode()
        kube.apply(f"""
apiVersion: v1
kind: Service
metadata: {{name: {ADAPTER_SERVICE}, namespace: keda}}
spec:
  ports: [{{name: https, port: 443, targetPort: {port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {ADAPTER_SERVICE}-host
  namespace: keda
  labels: {{kubernetes.io/service-name: {ADAPTER_SERVICE}, endpointslice.kubernetes.io/managed-by: ballast-e2e}}
addressType: IPv4
endpoints: [{{addresses: ["{address}"], conditions: {{ready: true}}}}]
ports: [{{name: https, port: {port}, protocol: TCP}}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {{name: {EXTERNAL_METRICS_API}}}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  service: {{name: {ADAPTER_SERVICE}, namespace: keda, port: 443}}
  caBundle: {ca_bundle}
  groupPriorityMinimum: 100
  versionPriority: 100
""")
        wait_for(f"APIService {EXTERNAL_METRICS_API} Available", self._available, timeout=90)
        self.startup_seconds = time.monotonic() - started

    def _available(self):
        self.host.fail_if_exited()
        return self.kube("get", "apiservice", EXTERNAL_METRICS_API, "-o",
                         "jsonpath={.status.conditions[?(@.type=='Available')].status}", check=False).strip() == "True"

    def stop(self):
        # The APIService goes first: while it is registered but unanswered, the namespace
        # controller and the garbage collector cannot finish discovery.
        self.kube("delete", "apiservice", EXTERNAL_METRICS_API, "--ignore-not-found", check=False)
        self.host.stop()


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


@pytest.fixture(scope="module")
def keda_metrics_adapter(cluster, kube, keda_operator, tmp_path_factory):
    """Only the modules that scale 1..N start it: the rest of the suite does not pay for it."""
    adapter = KedaMetricsAdapter(kube, keda_operator, cluster.state / "pki", tmp_path_factory.mktemp("keda-adapter"))
    print(f"\n[timing] keda-adapter serving {EXTERNAL_METRICS_API} in {adapter.startup_seconds:.1f} s")
    yield adapter
    adapter.stop()


class _Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "".join(f"{name} {value}\n" for name, value in self.server.gauges.items()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # Prometheus gave up on this scrape (its timeout is the 1 s interval)

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
