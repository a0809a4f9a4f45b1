#!/usr/bin/env python3
"""Checks what the chart's NetworkPolicy admits, for a table of value sets.

  check_network_policy.py HELM CHART

Each case renders the chart with its values and compares the NetworkPolicy's ingress rules,
as {port: [peers]}, with the expected ones: the apiserver (its configured CIDRs) to the
webhook port, KEDA to gRPC, publishers (and peer replicas) to sessions, Prometheus to admin;
an empty list closes the port (no rule at all: a rule with no `from` would admit everyone).
Also: the policy selects exactly the Deployment's pods and is Ingress-only. Exits 1 with one
line per problem. Called by scripts/check-manifests.sh.
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

APISERVER = [{"ipBlock": {"cidr": "10.0.0.0/24"}}]
KEDA = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}]
EVERY_NAMESPACE = [{"namespaceSelector": {}}]
MONITORING = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
# The chart's other replicas: always admitted to sessions while peers are on.
PEERS = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ballast", "app.kubernetes.io/instance": "ballast"}}}]

# (case, values, expected ingress {port: peers}; None = no NetworkPolicy; a string = helm must
# fail with a message containing it).
CASES = [
    ("off by default", {}, None),
    ("defaults with the apiserver's CIDR",
     {"networkPolicy": {"enabled": True, "apiserver": APISERVER}},
     {8443: APISERVER, 9090: KEDA, 9091: EVERY_NAMESPACE + PEERS, 9102: MONITORING}),
    ("admission on without apiserver addresses is refused",
     {"networkPolicy": {"enabled": True}}, "networkPolicy.apiserver must name"),
    ("narrowed: two control-plane CIDRs, KEDA's operator pods, one publisher namespace, no scraper",
     {"networkPolicy": {
         "enabled": True,
         "apiserver": [{"ipBlock": {"cidr": "10.0.0.0/24"}}, {"ipBlock": {"cidr": "fd00::/64"}}],
         "keda": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
                   "podSelector": {"matchLabels": {"app": "keda-operator"}}}],
         "publishers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ai-services"}}}],
         "metrics": []}},
     {8443: [{"ipBlock": {"cidr": "10.0.0.0/24"}}, {"ipBlock": {"cidr": "fd00::/64"}}],
      9090: [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
              "podSelector": {"matchLabels": {"app": "keda-operator"}}}],
      9091: [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ai-services"}}}] + PEERS}),
    ("empty lists close KEDA, publishers and metrics; without peers sessions is closed",
     {"networkPolicy": {"enabled": True, "apiserver": APISERVER, "keda": [], "publishers": [], "metrics": []},
      "sessions": {"peers": {"enabled": False}}},
     {8443: APISERVER}),
    ("no publishers: only the peer replicas reach sessions",
     {"networkPolicy": {"enabled": True, "apiserver": APISERVER, "publishers": []}},
     {8443: APISERVER, 9090: KEDA, 9091: PEERS, 9102: MONITORING}),
    ("components that are off keep their ports closed whatever the lists say",
     {"networkPolicy": {"enabled": True, "apiserver": APISERVER},
      "components": {"admission": False, "sessions": False}},
     {9090: KEDA, 9102: MONITORING}),
    ("ports follow the values",
     {"networkPolicy": {"enabled": True, "apiserver": APISERVER},
      "admission": {"port": 9443}, "scaler": {"port": 19090}, "sessions": {"port": 19091}, "admin": {"port": 19102}},
     {9443: APISERVER, 19090: KEDA, 19091: EVERY_NAMESPACE + PEERS, 19102: MONITORING}),
]


def render(helm, chart, values):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(values, f)
    try:
        done = subprocess.run([helm, "template", "ballast", chart, "--namespace", "ballast-system", "-f", f.name],
                              capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    docs = [d for d in yaml.safe_load_all(done.stdout) if isinstance(d, dict)] if done.returncode == 0 else []
    return done.returncode, done.stderr, docs


def canonical(peers):
    return sorted(json.dumps(p, sort_keys=True) for p in peers)


def check(helm, chart, case, values, expected):
    code, stderr, docs = render(helm, chart, values)
    if isinstance(expected, str):
        if code == 0 or expected not in stderr:
            return [f"{case}: expected helm to fail with '{expected}', got exit {code}: {stderr.strip()[:200]}"]
        return []
    if code != 0:
        return [f"{case}: helm template failed: {stderr.strip()[:300]}"]
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    if expected is None:
        return [f"{case}: a NetworkPolicy is rendered though off"] if policies else []
    if len(policies) != 1:
        return [f"{case}: expected one NetworkPolicy, found {len(policies)}"]
    spec = policies[0]["spec"]
    problems = []
    deployment = next(d for d in docs if d.get("kind") == "Deployment")
    if spec.get("podSelector") != deployment["spec"]["selector"]:
        problems.append(f"{case}: podSelector {spec.get('podSelector')} is not the Deployment's selector")
    if spec.get("policyTypes") != ["Ingress"]:
        problems.append(f"{case}: policyTypes {spec.get('policyTypes')}, expected [Ingress]")
    admitted = {}
    for rule in spec.get("ingress") or []:
        ports = rule.get("ports") or []
        if not rule.get("from") or len(ports) != 1 or ports[0].get("protocol") != "TCP":
            problems.append(f"{case}: rule {rule} must name its sources and exactly one TCP port")
            continue
        port = ports[0]["port"]
        if port in admitted:
            problems.append(f"{case}: port {port} has two rules")
        admitted[port] = rule["from"]
    if sorted(admitted) != sorted(expected):
        problems.append(f"{case}: ports admitted {sorted(admitted)}, expected {sorted(expected)}")
    for port in set(admitted) & set(expected):
        if canonical(admitted[port]) != canonical(expected[port]):
            problems.append(f"{case}: port {port} admits {admitted[port]}, expected {expected[port]}")
    return problems


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    helm, chart = sys.argv[1:]
    problems = [p for case, values, expected in CASES for p in check(helm, chart, case, values, expected)]
    for p in problems:
        print(f"check-manifests: NetworkPolicy: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
