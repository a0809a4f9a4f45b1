"""The e2e suite's harness: the real control plane (scripts/e2e-cluster.sh), the chart
installed as a user would, and ballast as a host process authenticated with the chart's own
ServiceAccount. scripts/e2e.sh brings the cluster up, runs pytest here and brings it down."""

import base64
import datetime
import http.client
import json
import os
import pathlib
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
import ssl

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMESPACE = "ballast-system"
TOOLS = pathlib.Path(os.environ.get("BALLAST_TOOLS_DIR", ROOT / "tools" / "bin"))
BALLAST_BIN = pathlib.Path(os.environ.get("BALLAST_BIN", ROOT / "build" / "src" / "app" / "ballast"))
KEDA_MODULE = "github.com/kedacore/keda/v2@v2.20.2"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout=60.0, interval=0.2):
    """Polls predicate until it returns a truthy value; fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as error:  # the condition may throw while the system settles
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Kubectl:
    """kubectl against the e2e cluster; every call raises on failure unless check=False."""

    def __init__(self, kubeconfig):
        self.kubeconfig = str(kubeconfig)

    def run(self, *args, stdin=None, check=True):
        proc = subprocess.run([str(TOOLS / "kubectl"), "--kubeconfig", self.kubeconfig, *args],
                              input=stdin, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def apply(self, manifest, *args, check=True):
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.run("apply", "-f", "-", *args, stdin=text, check=check)

    def create(self, manifest, *args, check=True):
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.run("create", "-f", "-", *args, stdin=text, check=check)

    def get(self, kind, name=None, namespace=None, check=True):
        args = ["get", kind] + ([name] if name else []) + (["-n", namespace] if namespace else []) + ["-o", "json"]
        proc = self.run(*args, check=check)
        return json.loads(proc.stdout) if proc.returncode == 0 else None


def kwok_node(name, cpu, memory, labels=None):
    """A Node kwok manages (annotated kwok.x-k8s.io/node=fake): it becomes Ready at once."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": name, "type": "kwok",
                                    "topology.kubernetes.io/zone": "z1", **(labels or {})}},
            "spec": {"providerID": f"kwok://{name}"},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "capacity": {"cpu": cpu, "memory": memory, "pods": "110"}}}


class Cluster:
    def __init__(self):
        self.state = pathlib.Path(os.environ.get("BALLAST_E2E_DIR", "/tmp/ballast-e2e"))
        if not (self.state / "admin.kubeconfig").exists():
            pytest.exit("no e2e cluster: run scripts/e2e-cluster.sh up (scripts/e2e.sh does)", 2)
        self.admin = Kubectl(self.state / "admin.kubeconfig")
        self.etcd = "http://127.0.0.1:" + (self.state / "etcd.port").read_text().strip()
        self.apiserver_restarts = []  # (from, to) epoch seconds: its authorizer is not synced yet

    def restart_apiserver(self):
        started = time.time()
        subprocess.run([str(ROOT / "scripts" / "e2e-cluster.sh"), "restart", "kube-apiserver"], check=True,
                       capture_output=True)
        wait_until("the apiserver back", lambda: self.admin.run("get", "--raw", "/readyz", check=False).returncode == 0,
                   timeout=120)
        # RBAC answers 403 until its informers have synced after the start.
        self.apiserver_restarts.append((started, time.time() + 10))

    def during_apiserver_restart(self, log_line):
        try:
            stamp = datetime.datetime.strptime(json.loads(log_line)["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        except (ValueError, KeyError):
            return False
        epoch = stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
        return any(start <= epoch <= end for start, end in self.apiserver_restarts)

    def add_nodes(self, names, cpu="4", memory="8Gi", labels=None):
        """Nodes kwok keeps Ready: its pods become Running without a kubelet."""
        for name in names:
            self.admin.apply(kwok_node(name, cpu, memory, labels))
        for name in names:
            wait_until(f"node {name} Ready", lambda n=name: any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in self.admin.get("node", n)["status"].get("conditions", [])))


class Api:
    """The apiserver over one HTTPS connection with the admin certificate; one thread each."""

    def __init__(self, cluster):
        pki = cluster.state / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        port = int((cluster.state / "apiserver.port").read_text())
        self.connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)

    def call(self, method, path, body=None):
        self.connection.request(method, path, body=json.dumps(body) if body is not None else None,
                                headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise AssertionError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def create_pod(self, namespace, manifest):
        return self.call("POST", f"/api/v1/namespaces/{namespace}/pods", manifest)

    def create_node(self, manifest):
        return self.call("POST", "/api/v1/nodes", manifest)

    def pods(self, namespace, selector):
        return self.call("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}")["items"]

    def close(self):
        self.connection.close()


class Poller:
    """Calls poll() every `interval` seconds on a thread of its own, from __enter__ until
    __exit__; then close()."""

    def __init__(self, interval):
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=30)
        self.close()

    def _run(self):
        while not self.stopping.is_set():
            self.poll()
            self.stopping.wait(self.interval)

    def poll(self):
        raise NotImplementedError

    def close(self):
        pass


def keda_crds():
    """KEDA's own CRDs, from the KEDA Go module (the module zip only, not its dependencies)."""
    out = subprocess.run(["go", "mod", "download", "-json", KEDA_MODULE], capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())
    return pathlib.Path(json.loads(out.stdout)["Dir"]) / "config" / "crd" / "bases"


# What Alertmanager presents on the shared ballast's POST /v1/alerts.
ALERTS_TOKEN = "e2e-alerts-token"


class Ballast:
    """ballast serve as a host process, with the token of the chart's ServiceAccount."""

    def __init__(self, cluster, workdir, name, components, webhook_port=None, extra_args=()):
        self.cluster, self.workdir, self.name = cluster, pathlib.Path(workdir), name
        self.webhook_port, self.admin_port = webhook_port or free_port(), free_port()
        self.grpc_port, self.sessions_port = free_port(), free_port()
        self.log_path = self.workdir / f"{name}.log"
        args = [str(BALLAST_BIN), "serve",
                "--kubeconfig", str(self.workdir / "ballast.kubeconfig"),
                "--namespace", NAMESPACE, "--components", components,
                "--policy", str(ROOT / "examples" / "policy.yaml"),
                "--webhook-address", f"127.0.0.1:{self.webhook_port}",
                "--tls-cert-file", str(self.workdir / "certs" / "tls.crt"),
                "--tls-key-file", str(self.workdir / "certs" / "tls.key"),
                "--grpc-address", f"127.0.0.1:{self.grpc_port}",
                "--sessions-address", f"127.0.0.1:{self.sessions_port}", "--sessions-insecure",
                "--admin-address", f"127.0.0.1:{self.admin_port}", *extra_args]
        self.args = args
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log,
                                     env={**os.environ, "POD_NAME": self.name, "HOSTNAME": self.name})
        wait_until(f"{self.name} ready", self.ready, timeout=30)

    def admin_get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=2) as response:
            return response.read().decode()

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}; see {self.log_path}")
        try:
            return self.admin_get("/readyz") is not None
        except OSError:
            return False

    def metric(self, name, **labels):
        """The sum of a metric's samples on /metrics carrying all `labels` (0 when absent)."""
        total = 0.0
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        for line in self.admin_get("/metrics").splitlines():
            if not (line.startswith(name + " ") or line.startswith(name + "{")):
                continue
            head = line.rsplit(" ", 1)[0]
            if all("{" + pair in head or "," + pair in head for pair in wanted):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.log.close()

    def log_lines(self):
        return self.log_path.read_text(errors="replace").splitlines()


@pytest.fixture(scope="session")
def cluster():
    return Cluster()


@pytest.fixture(scope="session")
def installed(cluster, tmp_path_factory):
    """The chart installed with `helm install` as a user would, webhooks pointed at the host
    process; the KEDA CRDs from KEDA's module; a kubeconfig with the chart's ServiceAccount
    token. Yields the work directory holding certs/ and ballast.kubeconfig."""
    work = tmp_path_factory.mktemp("ballast")
    subprocess.run([str(ROOT / "certs" / "gen-dev-certs.sh"), "ballast-webhook", NAMESPACE, str(work / "certs")],
                   check=True, capture_output=True)
    cluster.admin.run("apply", "--server-side", "-f", str(keda_crds()))
    ca_bundle = (work / "certs" / "caBundle").read_text().strip()
    webhook_port = free_port()
    helm = subprocess.run(
        [str(TOOLS / "helm"), "upgrade", "--install", "ballast", str(ROOT / "manifests" / "helm" / "ballast"),
         "--kubeconfig", cluster.admin.kubeconfig, "-n", NAMESPACE, "--create-namespace",
         "--set", f"admission.external.url=https://127.0.0.1:{webhook_port}",
         "--set", f"admission.external.caBundle={ca_bundle}"],
        capture_output=True, text=True, env={**os.environ, "HELM_CACHE_HOME": str(work / "helm"),
                                             "HELM_CONFIG_HOME": str(work / "helm"), "HELM_DATA_HOME": str(work / "helm")})
    assert helm.returncode == 0, f"helm install: {helm.stderr}"
    cluster.admin.run("wait", "--for=condition=Established", "--timeout=60s",
                      "crd/nodegroups.ballast.dev", "crd/scaledobjects.keda.sh")
    token = cluster.admin.run("create", "token", "ballast", "-n", NAMESPACE, "--duration=2h").stdout.strip()
    server = json.loads(cluster.admin.run("config", "view", "--raw", "-o", "json").stdout)["clusters"][0]["cluster"]
    (work / "ballast.kubeconfig").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "ballast",
        "clusters": [{"name": "e2e", "cluster": {"server": server["server"],
                                                 "certificate-authority": server["certificate-authority"]}}],
        "users": [{"name": "ballast", "user": {"token": token}}],
        "contexts": [{"name": "ballast", "context": {"cluster": "e2e", "user": "ballast", "namespace": NAMESPACE}}],
    }))
    yield {"work": work, "webhook_port": webhook_port}


@pytest.fixture(scope="session")
def ballast(cluster, installed):
    """The one ballast every scenario shares: webhook on the port the chart points at, and
    both reconcilers (they share one Lease, so one process runs both)."""
    (installed["work"] / "alerts-token").write_text(ALERTS_TOKEN + "\n")
    process = Ballast(cluster, installed["work"], "ballast-0", "scaler,sessions,admission,guard,nodepool",
                      webhook_port=installed["webhook_port"],
                      extra_args=("--alerts-token-file", str(installed["work"] / "alerts-token")))
    yield process
    process.stop()
    # Every ballast of the suite (the shared one and the leader-election pair) wrote here.
    # RBAC's refusals read `forbidden: User "system:serviceaccount:…" cannot …` (a 403 for a
    # terminating namespace is not one).
    forbidden = [line for log in sorted(installed["work"].glob("*.log")) for line in log.read_text().splitlines()
                 if 'forbidden: User \\"system:serviceaccount' in line and not cluster.during_apiserver_restart(line)]
    assert not forbidden, "the chart's RBAC refused ballast:\n" + "\n".join(forbidden[:5])


@pytest.fixture(scope="session")
def nodes(cluster):
    names = ["kwok-a", "kwok-b", "kwok-c"]
    cluster.add_nodes(names)
    return names


@pytest.fixture
def namespace(cluster, request):
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    readable = "".join(c if c.isalnum() else "-" for c in request.node.name.lower().removeprefix("test_"))[:40]
    name = f"{readable.strip('-')}-{uuid.uuid4().hex[:6]}"  # unique: a deleted one lingers while terminating
    cluster.admin.run("create", "namespace", name)
    yield name
    cluster.admin.run("delete", "namespace", name, "--wait=false", check=False)


class SessionPublisher:
    """A workload publishing session counters to ballast's `/v1/sessions` WebSocket (the
    machine's Python has no WebSocket module: the RFC 6455 client side is small enough to
    write here). It answers pings, so it stays connected while a test runs."""

    def __init__(self, port, publisher_id=None, token=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        headers = [f"GET /v1/sessions HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                   "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if publisher_id:
            headers.append(f"X-Ballast-Publisher: {publisher_id}")
        if token:
            headers.append(f"Authorization: Bearer {token}")
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"sessions upgrade on port {port}: connection closed")
            response += chunk
        status = response.split(b"\r\n", 1)[0].decode()
        assert " 101 " in status, f"sessions upgrade on port {port}: {status}"
        self.sock.settimeout(None)
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        size = len(payload)
        head = bytes([0x80 | opcode])
        head += bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def _send(self, opcode, payload):
        with self.lock:
            self.sock.sendall(self._frame(opcode, payload))

    def _read(self):
        try:
            while True:
                head = self._exactly(2)
                size = head[1] & 0x7F
                if size == 126:
                    size = struct.unpack("!H", self._exactly(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", self._exactly(8))[0]
                payload = self._exactly(size)
                if head[0] & 0x0F == 0x9:  # ping
                    self._send(0xA, payload)
                elif head[0] & 0x0F == 0x8:  # close
                    return
        except OSError:
            return

    def _exactly(self, size):
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def send(self, counter, value, labels=None):
        message = {"counter": counter, "value": value}
        if labels:
            message["labels"] = labels
        self._send(0x1, json.dumps(message).encode())

    def close(self):
        """A normal close: ballast drops this connection's series at once."""
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.reader.join(timeout=5)
        self.sock.close()
