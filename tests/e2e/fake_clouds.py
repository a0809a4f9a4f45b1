"""Fake VPSie and Contabo APIs on loopback whose VMs boot into the real cluster.

Each speaks the API subset ballast's providers use (src/providers/, the same shapes as the
C++ fakes in tests/fakes/fake_providers.cc): VPSie v2 with its client-credentials login,
Contabo compute v1 with its Keycloak password grant and a UUID x-request-id on every call.
A VM sold here joins the real apiserver as a kwok Node after `boot_delay` seconds, named
and labelled by the `--node-name`/`--node-label` of its user-data, as a real VM's K3s agent
would; deleting the VM (VPSie) or stopping it (Contabo parks instances) takes its Node away.
Knobs: `never_join` (VMs are created and billed but never register a Node), `hold_joins()`
/ `release_joins()` (boots wait until released), `create_answer_delay` (the create order is
recorded and the VM made at once, the answer comes later). Every order and removal is
recorded for assertions."""

import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field

from conftest import free_port

GROUP_LABEL = "ballast.dev/nodegroup"


def boot_identity(user_data, hostname):
    """The Node a VM's K3s agent registers: `--node-name` (else the VM's hostname) and the
    `--node-label` pairs of its user-data."""
    name = re.search(r"--node-name[= ](\S+)", user_data)
    labels = {}
    for pairs in re.findall(r"--node-label[= ](\S+)", user_data):
        for pair in pairs.split(","):
            key, _, value = pair.partition("=")
            if key:
                labels[key] = value
    return (name.group(1) if name else hostname), labels


class Joiner:
    """Registers Nodes as VMs' kubelets would: each `join` after `delay` seconds on its own
    thread (so boots overlap), kwok making the Node Ready; `leave` cancels a boot not yet
    done or deletes the Node. `hold()` makes boots wait at their moment until `release()`."""

    def __init__(self, cluster, delay=1.0):
        self.cluster, self.delay = cluster, delay
        self.lock = threading.Lock()
        self.joined = {}  # node name → monotonic time it registered
        self.leaving = set()  # nodes whose VM went before the boot finished
        self.released = threading.Event()
        self.released.set()
        self.threads = []

    def hold(self):
        self.released.clear()

    def release(self):
        self.released.set()

    def join(self, name, labels, cpu, memory):
        with self.lock:
            self.leaving.discard(name)
        thread = threading.Thread(target=self._boot, args=(name, labels, cpu, memory), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _boot(self, name, labels, cpu, memory):
        time.sleep(self.delay)
        self.released.wait()
        with self.lock:
            if name in self.leaving:
                return
        self.cluster.add_nodes([name], cpu=cpu, memory=memory, labels=labels)
        with self.lock:
            self.joined[name] = time.monotonic()
            gone = name in self.leaving
        if gone:  # the VM was deleted while it booted
            self.leave(name)

    def leave(self, name):
        with self.lock:
            self.leaving.add(name)
            self.joined.pop(name, None)
        self.cluster.admin.run("delete", "node", name, "--wait=false", check=False)

    def settle(self):
        """Waits for every boot under way (released first)."""
        self.release()
        for thread in self.threads:
            thread.join(timeout=30)

    def close(self):
        self.settle()
        for name in list(self.joined):
            self.leave(name)


@dataclass
class Vm:
    id: str
    name: str  # VPSie hostname, Contabo displayName
    product: str
    user_data: str
    state: str
    tags: list = field(default_factory=list)
    node: str = ""  # the Node it boots as
    cancel_date: str = ""  # Contabo: the contract ends


class FakeCloud:
    """The shared half of both fakes: the HTTP server, the VM table, the record of orders
    and removals, and booting through a Joiner. `catalog` maps a product id to the
    (cpu, memory) its VMs register with."""

    def __init__(self, cluster, catalog, boot_delay=1.0):
        self.catalog = catalog
        self.joiner = Joiner(cluster, boot_delay)
        self.lock = threading.Lock()
        self.vms = {}  # id → Vm
        self.requests = []  # every API call: {"method", "path", "body"}
        self.orders = []  # VMs booted for ballast: {"name", "product", "reused", "at"}
        self.removals = []  # VMs deleted (VPSie) or stopped (Contabo): {"node", "at"}
        self.never_join = False
        self.create_answer_delay = 0.0
        self.next_id = 1
        cloud = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with cloud.lock:
                    cloud.requests.append({"method": self.command, "path": url.path, "body": body})
                    status, answer, delay = cloud.route(self.command, url.path, query, headers, body)
                if delay:
                    time.sleep(delay)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller went away (a killed leader)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, method, path, query, headers, body):
        """(status, JSON answer, seconds to wait before answering); called under the lock."""
        raise NotImplementedError

    def hold_joins(self):
        self.joiner.hold()

    def release_joins(self):
        self.joiner.release()

    def running(self):
        """Names of VMs that run (billed and not parked)."""
        with self.lock:
            return sorted(vm.name for vm in self.vms.values() if vm.state in ("creating", "provisioning",
                                                                               "installing", "running"))

    def boot(self, vm, reused=False):
        """Called under the lock when a VM is ordered or reinstalled."""
        vm.node, labels = boot_identity(vm.user_data, vm.name)
        self.orders.append({"name": vm.name, "product": vm.product, "reused": reused, "at": time.monotonic()})
        if not self.never_join:
            cpu, memory = self.catalog[vm.product]
            self.joiner.join(vm.node, labels, cpu, memory)

    def halt(self, vm):
        """Called under the lock when a VM is deleted or stopped: its kubelet is gone."""
        self.removals.append({"node": vm.node, "at": time.monotonic()})
        threading.Thread(target=self.joiner.leave, args=(vm.node,), daemon=True).start()

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.joiner.close()


def parse_json(body):
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class FakeVpsie(FakeCloud):
    """VPSie API v2: POST /v2/auth/from/api (form clientId, clientSecret → a bearer with an
    expiry), GET/POST/DELETE /api/v2/vm, GET /api/v2/vm/{id}, GET /apps/v2/vm/pending.
    Errors come in VPSie's envelope {"error": true, "code", "message"}. The create answer
    carries no identifier, as the official SDK sees it."""

    def __init__(self, cluster, catalog, client_id, client_secret, account_password, boot_delay=1.0):
        super().__init__(cluster, catalog, boot_delay)
        self.client_id, self.client_secret, self.account_password = client_id, client_secret, account_password
        self.tokens = set()

    def route(self, method, path, query, headers, body):
        def error(code, message, status=None):
            return status or 200, {"error": True, "code": code, "message": message}, 0

        if method == "POST" and path == "/v2/auth/from/api":
            form = dict(urllib.parse.parse_qsl(body))
            if form.get("clientId") != self.client_id or form.get("clientSecret") != self.client_secret:
                return error(401, "invalid client credentials", 401)
            token = f"vpsie-{uuid.uuid4().hex}"
            self.tokens.add(token)
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            return 200, {"error": False, "accessToken": {"token": token, "expires": expires},
                         "refreshToken": {"token": "refresh-" + token, "expires": expires}}, 0
        if headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return error(401, "Unauthorized", 401)

        def shown(vm):
            return {"identifier": vm.id, "hostname": vm.name, "tags": vm.tags, "resourceIdentifier": vm.product,
                    "state": vm.state, "is_deleted": 0, "created_on": "2026-12-07T00:00:00Z"}

        if method == "GET" and path == "/api/v2/vm":
            data = [shown(vm) for vm in self.vms.values()]
            return 200, {"error": False, "data": data, "total": len(data)}, 0
        if method == "GET" and path == "/apps/v2/vm/pending":
            return 200, {"error": False, "data": []}, 0
        if method == "GET" and path.startswith("/api/v2/vm/"):
            vm = self.vms.get(path.removeprefix("/api/v2/vm/"))
            return (200, {"error": False, "data": {"vmData": shown(vm)}}, 0) if vm else error(404, "VM not found")
        if method == "POST" and path == "/api/v2/vm":
            order = parse_json(body)
            missing = [k for k in ("resourceIdentifier", "osIdentifier", "dcIdentifier", "hostname")
                       if not (order or {}).get(k)]
            if missing:
                return error(400, "missing " + ", ".join(missing), 400)
            if order["resourceIdentifier"] not in self.catalog:
                return error(400, f"unknown resourceIdentifier {order['resourceIdentifier']}", 400)
            vm = Vm(id=f"vm-{self.new_id()}", name=order["hostname"], product=order["resourceIdentifier"],
                    user_data=order.get("userData", ""), state="running", tags=order.get("tags", []))
            self.vms[vm.id] = vm
            self.boot(vm)
            return 200, {"error": False, "data": {}}, self.create_answer_delay
        if method == "DELETE" and path == "/api/v2/vm":
            order = parse_json(body) or {}
            if order.get("password") != self.account_password:
                return error(403, "wrong password")
            vm = self.vms.pop(order.get("vmIdentifier", ""), None)
            if vm is None:
                return error(404, "VM not found")
            self.halt(vm)
            return 200, {"error": False, "data": {}}, 0
        return error(404, f"no route {method} {path}", 404)


CONTABO_TOKEN_PATH = "/auth/realms/contabo/protocol/openid-connect/token"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


class FakeContabo(FakeCloud):
    """Contabo: the Keycloak password grant at CONTABO_TOKEN_PATH, and /v1/compute/instances
    with paged list, get, create (201), PATCH displayName, PUT reinstall (boots again with the
    new user-data), actions/stop (the VM halts: its Node goes) and cancel. Every /v1 call
    needs a bearer and a UUID4 x-request-id. There is no delete: ballast parks instances."""

    def __init__(self, cluster, catalog, client_id, client_secret, username, password, boot_delay=1.0):
        super().__init__(cluster, catalog, boot_delay)
        self.credentials = {"grant_type": "password", "client_id": client_id, "client_secret": client_secret,
                            "username": username, "password": password}
        self.tokens = set()

    def parked(self):
        with self.lock:
            return sorted(vm.name for vm in self.vms.values() if vm.name.startswith("ballast-parked."))

    def route(self, method, path, query, headers, body):
        def error(status, message):
            return status, {"statusCode": status, "message": message}, 0

        if method == "POST" and path == CONTABO_TOKEN_PATH:
            if dict(urllib.parse.parse_qsl(body)) != self.credentials:
                return 401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}, 0
            token = f"contabo-{uuid.uuid4().hex}"
            self.tokens.add(token)
            return 200, {"access_token": token, "expires_in": 300, "token_type": "Bearer"}, 0
        if headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return error(401, "Unauthorized")
        if not UUID4.match(headers.get("x-request-id", "")):
            return error(400, "x-request-id must be a UUID4")

        def shown(vm):
            return {"tenantId": "DE", "customerId": "12345", "instanceId": int(vm.id), "name": f"vmi{vm.id}",
                    "displayName": vm.name, "productId": vm.product, "status": vm.state, "cancelDate": vm.cancel_date,
                    "region": "EU", "createdDate": "2026-12-07T00:00:00.000Z"}

        base = "/v1/compute/instances"
        if method == "GET" and path == base:
            size, page = max(1, min(int(query.get("size", 10)), 100)), max(1, int(query.get("page", 1)))
            all_vms = list(self.vms.values())
            pages = max(1, -(-len(all_vms) // size))
            data = [shown(vm) for vm in all_vms[(page - 1) * size:page * size]]
            return 200, {"data": data, "_pagination": {"size": size, "totalElements": len(all_vms),
                                                       "totalPages": pages, "page": page}}, 0
        if method == "POST" and path == base:
            order = parse_json(body)
            if not order or "period" not in order:
                return error(400, "period is required")
            product = order.get("productId", "V92")
            if product not in self.catalog:
                return error(400, f"unknown productId {product}")
            vm = Vm(id=str(100000 + self.new_id()), name=order.get("displayName", ""), product=product,
                    user_data=order.get("userData", ""), state="provisioning")
            self.vms[vm.id] = vm
            self.boot(vm)
            created = {k: v for k, v in shown(vm).items() if k != "displayName"}
            return 201, {"data": [created]}, self.create_answer_delay
        instance, _, action = path.removeprefix(base + "/").partition("/")
        vm = self.vms.get(instance) if path.startswith(base + "/") else None
        if vm is None:
            return error(404, f"Entry Instances not found by instanceId: {instance}")
        order = parse_json(body or "{}") or {}
        if method == "GET" and not action:
            answer = shown(vm)
            if vm.state in ("provisioning", "installing"):
                vm.state = "running"  # seen once as ordered, then running
            return 200, {"data": [answer]}, 0
        if method == "PATCH" and not action:
            if "displayName" not in order:
                return error(400, "displayName required")
            vm.name = order["displayName"]
            return 200, {"data": [shown(vm)]}, 0
        if method == "PUT" and not action:
            vm.user_data, vm.state = order.get("userData", ""), "installing"
            self.boot(vm, reused=True)
            return 200, {"data": [shown(vm)]}, 0
        if method == "POST" and action == "actions/stop":
            if vm.state == "stopped":
                return error(409, "instance already stopped")
            vm.state = "stopped"
            self.halt(vm)
            return 201, {"data": [{"instanceId": int(vm.id), "action": "stop"}]}, 0
        if method == "POST" and action == "cancel":
            vm.cancel_date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))
            return 201, {"data": [{"instanceId": int(vm.id), "cancelDate": vm.cancel_date}]}, 0
        return error(404, f"no route {method} {path}")
