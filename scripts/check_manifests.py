#!/usr/bin/env python3
"""Checks rendered ballast manifests (helm template / kubectl kustomize output).

  check_manifests.py RENDERED.yaml --namespace NS [--certs selfSigned|certManager]
                     [--nodegroups N] [--servicemonitor] [--dashboard] [--components a,b]
                     [--dry-run]

Exits 1 with one line per problem. Called by scripts/check-manifests.sh.
"""
import argparse
import base64
import json
import os
import re
import sys

import yaml

# CONTRACT.md's `serve` flags (fixed names), and the ones this wave adds (`peers-service`,
# `alerts-token-file`: named in the session notes for CONTRACT). `--config` is the config file itself.
CONTRACT_FLAGS = {
    "config", "grpc-address", "grpc-tls-cert-file", "grpc-tls-key-file", "grpc-client-ca-file",
    "sessions-address", "sessions-token-file", "sessions-insecure", "peers", "peers-dns", "peers-service", "peers-token-file",
    "webhook-address", "tls-cert-file", "tls-key-file", "admin-address", "policy", "namespace",
    "kubeconfig", "components", "dry-run", "log-level", "alerts-token-file",
}
COMPONENTS = {"scaler", "sessions", "admission", "guard", "nodepool"}
# What a Deployment runs when the checker is given no --components (the chart's and the
# kustomize base's defaults).
DEFAULT_COMPONENTS = {"scaler", "sessions", "admission", "guard", "nodepool"}
# Components that call the Kubernetes API: they need the service account token, the Lease and
# Events.
RECONCILERS = {"guard", "nodepool"}
# The RBAC the code calls, the one table to change with it: (grant, scope, apiGroup,
# resource) -> verbs. Grant "reconcilers" applies when any of RECONCILERS is on, otherwise
# the component's name. Scope "namespace": a Role in ballast's namespace; "cluster": a
# ClusterRole. The rendered RBAC must grant exactly the union for the enabled components.
# scaler, sessions and admission make no API calls (their inputs are mounted files), except
# the sessions' peers found through the API (grant "peers": --peers-service).
# Discovery (GET /apis/keda.sh/v1alpha1) is the built-in system:discovery role's.
RBAC = {
    # src/peers/service_discovery.cc: an informer on the peers Service's EndpointSlices.
    ("peers", "namespace", "discovery.k8s.io", "endpointslices"): {"list", "watch"},
    # src/kube/leader_election.cc: Lease ballast-leader in --namespace.
    ("reconcilers", "namespace", "coordination.k8s.io", "leases"): {"get", "create", "update"},
    # src/kube/event_recorder.cc: Events in the object's namespace, else default.
    ("reconcilers", "cluster", "", "events"): {"create", "patch"},
    # Both reconcilers inform on PDBs (the guard owns some, the node pool's drain honours them).
    ("reconcilers", "cluster", "policy", "poddisruptionbudgets"): {"list", "watch"},
    # Both read pods: the node pool's pending and placed pods, the guard's pdbTargets pods.
    ("reconcilers", "cluster", "", "pods"): {"list", "watch"},
    # src/guard/guard_reconciler.cc: informers (list+watch) and the writes.
    ("guard", "cluster", "apps", "deployments"): {"list", "watch"},
    ("guard", "cluster", "apps", "statefulsets"): {"list", "watch"},
    ("guard", "cluster", "policy", "poddisruptionbudgets"): {"create", "update", "delete"},
    ("guard", "cluster", "", "namespaces"): {"list", "watch"},
    ("guard", "cluster", "scheduling.k8s.io", "priorityclasses"): {"list", "watch", "create"},
    ("guard", "cluster", "keda.sh", "scaledobjects"): {"list", "watch"},
    # The tier policy's VPAs (only once the CRD is served), and the HPAs that rule them out.
    ("guard", "cluster", "autoscaling.k8s.io", "verticalpodautoscalers"): {"list", "watch", "create", "update", "delete"},
    ("guard", "cluster", "autoscaling", "horizontalpodautoscalers"): {"list", "watch"},
    # src/nodepool/nodepool_reconciler.cc: informers (list+watch); drain = merge-patch the Node
    # (taint, unschedulable, annotation), evict its pods, delete the Node; status merge patch.
    ("nodepool", "cluster", "", "nodes"): {"list", "watch", "patch", "delete"},
    ("nodepool", "cluster", "", "pods/eviction"): {"create"},
    ("nodepool", "cluster", "apps", "daemonsets"): {"list", "watch"},
    # Scale-down: where a pod's PersistentVolume lets it move (node-bound local-path volumes).
    ("nodepool", "cluster", "", "persistentvolumes"): {"list", "watch"},
    ("nodepool", "cluster", "", "persistentvolumeclaims"): {"list", "watch"},
    ("nodepool", "cluster", "ballast.dev", "nodegroups"): {"list", "watch"},
    ("nodepool", "cluster", "ballast.dev", "nodegroups/status"): {"patch"},
    # src/app/node_providers.cc (credentialsSecret) and the reconciler (bootstrapSecret): get,
    # in ballast's namespace only.
    ("nodepool", "namespace", "", "secrets"): {"get"},
}
# The only resource that may be granted in a Role and never in a ClusterRole.
NAMESPACE_ONLY_RESOURCES = {"secrets"}
FILE_FLAGS = {"config", "grpc-tls-cert-file", "grpc-tls-key-file", "grpc-client-ca-file",
              "sessions-token-file", "peers-token-file", "tls-cert-file", "tls-key-file", "policy", "kubeconfig"}
EXCLUDED_NAMESPACES = {"kube-system", "kube-node-lease"}

problems = []


def problem(message):
    problems.append(message)


def objects(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind")]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def name(d):
    return d.get("metadata", {}).get("name", "?")


def check_webhooks(docs, ns, cert_mode):
    services = {name(s): s for s in by_kind(docs, "Service")}
    certificates = {name(c) for c in by_kind(docs, "Certificate")}
    configs = by_kind(docs, "MutatingWebhookConfiguration") + by_kind(docs, "ValidatingWebhookConfiguration")
    if len(configs) != 2:
        problem(f"expected one Mutating and one ValidatingWebhookConfiguration, found {len(configs)}")
    for config in configs:
        kind = config["kind"]
        where = f"{kind} {name(config)}"
        inject = config.get("metadata", {}).get("annotations", {}).get("cert-manager.io/inject-ca-from")
        if cert_mode == "certManager":
            if not inject:
                problem(f"{where}: cert-manager mode without the cert-manager.io/inject-ca-from annotation")
            elif inject.split("/", 1)[0] != ns or inject.split("/", 1)[-1] not in certificates:
                problem(f"{where}: inject-ca-from {inject} names no Certificate {ns}/<rendered Certificate>")
        for hook in config.get("webhooks", []):
            w = f"{where} webhook {hook.get('name')}"
            client = hook.get("clientConfig", {})
            svc = client.get("service") or {}
            if client.get("url"):
                problem(f"{w}: uses a url, not the webhook Service")
            target = services.get(svc.get("name"))
            if target is None:
                problem(f"{w}: clientConfig.service {svc.get('name')} is not a rendered Service")
            else:
                if svc.get("namespace") != ns:
                    problem(f"{w}: clientConfig.service.namespace {svc.get('namespace')} != {ns}")
                ports = [p.get("port") for p in target["spec"].get("ports", [])]
                if svc.get("port", 443) not in ports:
                    problem(f"{w}: Service {name(target)} has no port {svc.get('port', 443)}")
            expected_path = "/mutate" if kind.startswith("Mutating") else "/validate"
            if svc.get("path") != expected_path:
                problem(f"{w}: path {svc.get('path')} != {expected_path}")
            bundle = client.get("caBundle")
            if cert_mode == "selfSigned":
                try:
                    pem = base64.b64decode(bundle or "", validate=True).decode()
                except Exception:  # noqa: BLE001 - any decoding failure is the same problem
                    pem = ""
                if "BEGIN CERTIFICATE" not in pem:
                    problem(f"{w}: no caBundle holding a PEM certificate")
            elif cert_mode == "certManager" and bundle:
                problem(f"{w}: caBundle set in cert-manager mode (cainjector owns it)")
            if hook.get("admissionReviewVersions") != ["v1"]:
                problem(f"{w}: admissionReviewVersions must be [v1]")
            if hook.get("sideEffects") != "None":
                problem(f"{w}: sideEffects must be None")
            timeout = hook.get("timeoutSeconds")
            if not isinstance(timeout, int) or not 2 <= timeout <= 3:
                problem(f"{w}: timeoutSeconds {timeout} not within 2-3")
            selector = hook.get("namespaceSelector", {}).get("matchExpressions", [])
            excluded = set()
            for e in selector:
                if e.get("key") == "kubernetes.io/metadata.name" and e.get("operator") == "NotIn":
                    excluded |= set(e.get("values", []))
            missing = (EXCLUDED_NAMESPACES | {ns}) - excluded
            if missing:
                problem(f"{w}: namespaceSelector does not exclude {sorted(missing)}")
            resources = set()
            for rule in hook.get("rules", []):
                if "*" in rule.get("resources", []) + rule.get("apiGroups", []) + rule.get("operations", []):
                    problem(f"{w}: rule uses *")
                if set(rule.get("operations", [])) != {"CREATE", "UPDATE"}:
                    problem(f"{w}: rule operations {rule.get('operations')} != CREATE, UPDATE")
                resources |= set(rule.get("resources", []))
            policy = hook.get("failurePolicy")
            if kind.startswith("Mutating"):
                if policy != "Ignore":
                    problem(f"{w}: mutating failurePolicy must be Ignore")
                if hook.get("reinvocationPolicy") != "IfNeeded":
                    problem(f"{w}: reinvocationPolicy must be IfNeeded")
                if resources != {"pods", "deployments", "statefulsets", "jobs", "cronjobs"}:
                    problem(f"{w}: mutates {sorted(resources)}, expected pods, deployments, statefulsets, jobs, cronjobs")
            else:
                if "scaledobjects" in resources:
                    if policy != "Fail" or resources != {"scaledobjects", "scaledjobs"}:
                        problem(f"{w}: the ScaledObject webhook must be Fail and cover scaledobjects and scaledjobs only")
                elif policy != "Ignore":
                    problem(f"{w}: only the ScaledObject webhook may fail closed")
        if kind.startswith("Validating"):
            covered = {r for h in config.get("webhooks", []) for rule in h.get("rules", []) for r in rule.get("resources", [])}
            if not {"scaledobjects", "scaledjobs", "pods", "deployments", "statefulsets", "jobs", "cronjobs"} <= covered:
                problem(f"{where}: validates {sorted(covered)}, expected scaledobjects and the workloads")


def flag_args(args):
    out = {}
    for arg in args:
        if not arg.startswith("--"):
            continue
        key, _, value = arg[2:].partition("=")
        out[key] = value
    return out


def check_deployment(docs, ns, components, dry_run, peers_from_api):
    deployments = by_kind(docs, "Deployment")
    if len(deployments) != 1:
        problem(f"expected one Deployment, found {len(deployments)}")
        return
    d = deployments[0]
    spec = d["spec"]
    pod = spec["template"]["spec"]
    if spec.get("replicas") != 2:
        problem(f"Deployment: replicas {spec.get('replicas')} != 2")
    if pod.get("priorityClassName") != "platform-infra-critical":
        problem("Deployment: priorityClassName must be platform-infra-critical")
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    preferred = anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" for t in terms) and not preferred:
        problem("Deployment: no hostname pod anti-affinity")
    psc = pod.get("securityContext", {})
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem("Deployment: pod seccompProfile must be RuntimeDefault")
    containers = pod.get("containers", [])
    if len(containers) != 1:
        problem("Deployment: expected one container")
        return
    c = containers[0]
    sc = {**psc, **c.get("securityContext", {})}
    if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") != 65532:
        problem("Deployment: must run as non-root user 65532")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem("Deployment: readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problem("Deployment: allowPrivilegeEscalation must be false")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problem("Deployment: capabilities must drop ALL")
    args = c.get("args", [])
    if not args or args[0] != "serve":
        problem(f"Deployment: args must start with serve, got {args[:1]}")
    flags = flag_args(args)
    for arg in args[1:]:
        if not arg.startswith("--") or "=" not in arg:
            problem(f"Deployment: argument {arg!r} is not --flag=value")
    unknown = set(flags) - CONTRACT_FLAGS
    if unknown:
        problem(f"Deployment: flags not in CONTRACT.md: {sorted(unknown)}")
    if flags.get("namespace") != "$(POD_NAMESPACE)":
        problem("Deployment: --namespace must be $(POD_NAMESPACE)")
    env = {e["name"]: e for e in c.get("env", [])}
    if env.get("POD_NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.namespace":
        problem("Deployment: POD_NAMESPACE must come from the downward API (metadata.namespace)")
    wanted = components
    # Named always: without the flag ballast runs "all that can run", which depends on the pod.
    if "components" not in flags:
        problem("Deployment: no --components flag")
    else:
        listed = set(flags["components"].split(","))
        if listed - COMPONENTS:
            problem(f"Deployment: --components names {sorted(listed - COMPONENTS)}")
        if listed != components:
            problem(f"Deployment: --components {sorted(listed)} != expected {sorted(components)}")
    reconcilers = bool(wanted & RECONCILERS)
    if "sessions" in wanted:
        discovery = "peers-service" if peers_from_api else "peers-dns"
        if discovery not in flags or ({"peers-service", "peers-dns"} - {discovery}) & set(flags):
            problem(f"Deployment: peers must be found with --{discovery} alone")
    if peers_from_api and env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "status.podIP":
        problem("Deployment: POD_IP must come from the downward API (status.podIP): a replica skips its own endpoint")
    if ("dry-run" in flags and flags["dry-run"] in ("", "true", "1")) != dry_run:
        problem(f"Deployment: --dry-run {'missing' if dry_run else 'set'}")
    if "dry-run" in flags and not reconcilers:
        problem("Deployment: --dry-run without a reconciler")
    # The reconcilers and the peers' discovery reach the API with the pod's token; without
    # them the pod needs none.
    automount = pod.get("automountServiceAccountToken")
    if automount is None:
        account = next((a for a in by_kind(docs, "ServiceAccount") if name(a) == pod.get("serviceAccountName")), {})
        automount = account.get("automountServiceAccountToken", True)
    if automount is not (reconcilers or peers_from_api):
        problem(f"Deployment: the service account token is {'not ' if not automount else ''}mounted "
                f"with {'a reconciler' if reconcilers else 'no reconciler'} on and peers "
                f"{'' if peers_from_api else 'not '}found through the API")
    for component, flag in (("scaler", "grpc-address"), ("sessions", "sessions-address"), ("admission", "webhook-address")):
        if (component in wanted) != (flag in flags):
            problem(f"Deployment: --{flag} {'missing' if component in wanted else 'set'} with {component} {'on' if component in wanted else 'off'}")
    if "admission" in wanted and not ("tls-cert-file" in flags and "tls-key-file" in flags):
        problem("Deployment: the webhook needs --tls-cert-file and --tls-key-file")
    if "sessions" in wanted and "sessions-token-file" not in flags:
        problem("Deployment: sessions needs --sessions-token-file")
    mounts = [m["mountPath"].rstrip("/") + "/" for m in c.get("volumeMounts", [])]
    for flag in FILE_FLAGS & set(flags):
        if not any(flags[flag].startswith(m) for m in mounts):
            problem(f"Deployment: --{flag}={flags[flag]} is not under a mounted volume")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if flags.get("admin-address", "").rsplit(":", 1)[-1] != "9102" or ports.get("admin") != 9102:
        problem("Deployment: admin must listen on 9102 (port name admin)")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        port = ports.get(get.get("port"), get.get("port"))
        if get.get("path") != path or port != 9102:
            problem(f"Deployment: {probe} must GET {path} on 9102")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            problem(f"Deployment: volumeMount {m['name']} has no volume")
    selector = spec["selector"]["matchLabels"]
    pdbs = [p for p in by_kind(docs, "PodDisruptionBudget") if p["spec"].get("selector", {}).get("matchLabels") == selector]
    if not pdbs:
        problem("no PodDisruptionBudget selects the Deployment's pods")
    for p in pdbs:
        if p["spec"].get("minAvailable") == spec.get("replicas"):
            problem("the ballast PDB would block every drain")
    # Every Secret/ConfigMap the pod mounts is rendered, or documented as user-provided.
    rendered = {(o["kind"], name(o)) for o in docs}
    for v in volumes.values():
        ref = v.get("configMap", {}).get("name")
        if ref and ("ConfigMap", ref) not in rendered:
            problem(f"Deployment: ConfigMap {ref} is not rendered")


def expected_rbac(components, peers_from_api):
    """{(scope, apiGroup, resource, verb)} the enabled components need."""
    grants = set(components)
    if components & RECONCILERS:
        grants.add("reconcilers")
    if peers_from_api:
        grants.add("peers")
    return {(scope, group, resource, verb)
            for (grant, scope, group, resource), verbs in RBAC.items() if grant in grants
            for verb in verbs}


def check_rbac(docs, ns, components, peers_from_api):
    rendered = {(o["kind"], name(o)) for o in docs}
    accounts = {name(a) for a in by_kind(docs, "ServiceAccount")}
    deployments = by_kind(docs, "Deployment")
    account = deployments[0]["spec"]["template"]["spec"].get("serviceAccountName") if deployments else None
    # Roles bound to ballast's ServiceAccount: only those grant ballast anything.
    bound = set()
    for binding in by_kind(docs, "RoleBinding") + by_kind(docs, "ClusterRoleBinding"):
        where = f"{binding['kind']} {name(binding)}"
        ref = binding["roleRef"]
        if (ref["kind"], ref["name"]) not in rendered:
            problem(f"{where}: roleRef {ref['kind']} {ref['name']} is not rendered")
        if binding["kind"] == "RoleBinding" and ref["kind"] != "Role":
            problem(f"{where}: binds a {ref['kind']}; namespaced grants come from a Role")
        for subject in binding.get("subjects") or []:
            if (subject.get("kind"), subject.get("name"), subject.get("namespace")) != ("ServiceAccount", account, ns):
                problem(f"{where}: subject {subject} is not ballast's ServiceAccount {ns}/{account}")
        bound.add((ref["kind"], ref["name"]))
    if bound and account not in accounts:
        problem(f"RBAC is bound to ServiceAccount {account}, which is not rendered")
    granted = set()
    for kind, scope in (("Role", "namespace"), ("ClusterRole", "cluster")):
        for role in by_kind(docs, kind):
            where = f"{kind} {name(role)}"
            if (kind, name(role)) not in bound:
                problem(f"{where}: bound to nothing")
            if role.get("aggregationRule"):
                problem(f"{where}: aggregationRule grants what this check cannot see")
            for rule in role.get("rules") or []:
                fields = rule.get("apiGroups", []) + rule.get("resources", []) + rule.get("verbs", []) + rule.get("nonResourceURLs", [])
                if any("*" in f for f in fields):
                    problem(f"{where}: rule uses *: {rule}")
                if rule.get("nonResourceURLs"):
                    problem(f"{where}: grants nonResourceURLs {rule['nonResourceURLs']}, which the code does not need")
                if rule.get("resourceNames"):
                    problem(f"{where}: resourceNames are not in the expectation table: {rule}")
                if kind == "ClusterRole" and NAMESPACE_ONLY_RESOURCES & set(rule.get("resources", [])):
                    problem(f"{where}: Secrets may only be granted in a Role in ballast's namespace")
                for group in rule.get("apiGroups", []):
                    for resource in rule.get("resources", []):
                        for verb in rule.get("verbs", []):
                            granted.add((scope, group, resource, verb))
    expected = expected_rbac(components, peers_from_api)

    def show(entry):
        scope, group, resource, verb = entry
        return f"{verb} {resource}.{group or 'core'} ({'Role' if scope == 'namespace' else 'ClusterRole'})"

    for entry in sorted(granted - expected):
        problem(f"RBAC grants {show(entry)}, which the enabled components {sorted(components)} do not call")
    for entry in sorted(expected - granted):
        problem(f"RBAC misses {show(entry)}, which the enabled components {sorted(components)} call")


def check_services(docs, components):
    wanted = components
    grpc = [s for s in by_kind(docs, "Service") if any(p.get("port") == 9090 for p in s["spec"].get("ports", []))]
    if "scaler" in wanted:
        if len(grpc) != 1:
            problem(f"expected one Service with the gRPC port 9090, found {len(grpc)}")
        for s in grpc:
            if s["spec"].get("clusterIP") != "None":
                problem(f"Service {name(s)}: the gRPC scaler Service must be headless (clusterIP: None)")
    elif grpc:
        problem("a gRPC Service is rendered with the scaler off")
    ports = {p.get("port") for s in by_kind(docs, "Service") for p in s["spec"].get("ports", [])}
    for component, port in (("sessions", 9091), ("admission", 443)):
        if (component in wanted) != (port in ports):
            problem(f"Service port {port}: {'missing' if component in wanted else 'rendered'} with {component} {'on' if component in wanted else 'off'}")
    if 9102 not in ports:
        problem("no metrics Service on 9102")


def check_priority_classes(docs, policy_path):
    classes = by_kind(docs, "PriorityClass")
    names = {name(c) for c in classes}
    with open(policy_path) as f:
        policy = yaml.safe_load(f)
    # Kubernetes' own system-* classes always exist: no manifest makes them.
    named = {t["priorityClassName"] for t in policy["tiers"].values()
             if t.get("priorityClassName") and not t["priorityClassName"].startswith("system-")}
    if names != named:
        problem(f"PriorityClasses {sorted(names)} != the policy's classes {sorted(named)}")
    defaults = [name(c) for c in classes if c.get("globalDefault")]
    if defaults != ["platform-normal"]:
        problem(f"globalDefault PriorityClasses {defaults} != [platform-normal]")
    # The objects are the policy's priorityClasses map (what the guard would create).
    declared = policy.get("priorityClasses") or {}
    if set(declared) != names:
        problem(f"PriorityClasses {sorted(names)} != the policy's priorityClasses {sorted(declared)}")
    for c in classes:
        want = declared.get(name(c))
        if want is None:
            continue
        have = (c.get("value"), bool(c.get("globalDefault", False)),
                c.get("preemptionPolicy", "PreemptLowerPriority"), c.get("description", ""))
        wanted = (want.get("value"), bool(want.get("globalDefault", False)),
                  want.get("preemptionPolicy", "PreemptLowerPriority"), want.get("description", ""))
        if have != wanted:
            problem(f"PriorityClass {name(c)}: (value, globalDefault, preemptionPolicy, description) "
                    f"{have} != the policy's {wanted}")
    for c in classes:
        if name(c).startswith("system-") or not 0 < c.get("value", 0) <= 1_000_000_000:
            problem(f"PriorityClass {name(c)}: reserved name or value out of range")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rendered")
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--certs", choices=["selfSigned", "certManager"], required=True)
    ap.add_argument("--nodegroups", type=int, default=0)
    ap.add_argument("--servicemonitor", action="store_true")
    ap.add_argument("--dashboard", action="store_true")
    ap.add_argument("--components")
    ap.add_argument("--dry-run", action="store_true", help="the Deployment passes --dry-run")
    ap.add_argument("--peers-discovery", choices=["endpointSlices", "dns"], default="endpointSlices",
                    help="how the replicas find each other when sessions is on")
    ap.add_argument("--policy", default=os.path.join(os.path.dirname(__file__), "..", "examples", "policy.yaml"))
    args = ap.parse_args()
    components = set(args.components.split(",")) if args.components else set(DEFAULT_COMPONENTS)

    docs = objects(args.rendered)
    for d in docs:
        md = d.get("metadata", {})
        if d["kind"] not in ("Namespace", "PriorityClass", "CustomResourceDefinition", "NodeGroup",
                             "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
                             "ClusterRole", "ClusterRoleBinding") and md.get("namespace") not in (None, args.namespace):
            if not (d["kind"] == "ConfigMap" and args.dashboard):
                problem(f"{d['kind']} {name(d)}: namespace {md.get('namespace')} != {args.namespace}")

    if "admission" in components:
        check_webhooks(docs, args.namespace, args.certs)
    elif by_kind(docs, "MutatingWebhookConfiguration") or by_kind(docs, "ValidatingWebhookConfiguration"):
        problem("webhook configurations rendered with admission off")
    peers_from_api = "sessions" in components and args.peers_discovery == "endpointSlices"
    check_deployment(docs, args.namespace, components, args.dry_run, peers_from_api)
    check_rbac(docs, args.namespace, components, peers_from_api)
    check_services(docs, components)
    check_priority_classes(docs, args.policy)

    groups = by_kind(docs, "NodeGroup")
    if len(groups) != args.nodegroups:
        problem(f"expected {args.nodegroups} NodeGroups, found {len(groups)}")
    monitors = by_kind(docs, "ServiceMonitor")
    if args.servicemonitor != bool(monitors):
        problem(f"ServiceMonitor {'missing' if args.servicemonitor else 'rendered though off'}")
    for m in monitors:
        metrics = [s for s in by_kind(docs, "Service")
                   if all(s["metadata"].get("labels", {}).get(k) == v for k, v in m["spec"]["selector"]["matchLabels"].items())]
        if not metrics or not any(p.get("name") == m["spec"]["endpoints"][0]["port"] for s in metrics for p in s["spec"]["ports"]):
            problem(f"ServiceMonitor {name(m)} selects no Service with port {m['spec']['endpoints'][0]['port']}")
    dashboards = [c for c in by_kind(docs, "ConfigMap") if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    if args.dashboard != bool(dashboards):
        problem(f"dashboard ConfigMap {'missing' if args.dashboard else 'rendered though off'}")
    for c in dashboards:
        for key, text in c.get("data", {}).items():
            try:
                if not json.loads(text).get("panels"):
                    problem(f"dashboard {key}: no panels")
            except ValueError as e:
                problem(f"dashboard {key}: invalid JSON: {e}")
    for s in by_kind(docs, "Secret"):
        if s.get("stringData") or any(not re.fullmatch(r"[A-Za-z0-9+/=]*", v or "") for v in (s.get("data") or {}).values()):
            problem(f"Secret {name(s)}: data must be base64")

    if problems:
        for p in problems:
            print(f"check-manifests: {args.rendered}: {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
