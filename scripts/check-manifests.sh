#!/usr/bin/env bash
# Lints and renders the Helm chart and the kustomize base, then checks the rendered objects
# (scripts/check_manifests.py): webhooks point at the webhook Service and carry a CA (or the
# cert-manager inject annotation), the Deployment's flags are CONTRACT.md's, RBAC grants
# exactly what the enabled components call (never `*`, Secrets only in a Role), the gRPC Service
# is headless, PriorityClasses match the policy's, the NetworkPolicy admits exactly the callers
# its values name (scripts/check_network_policy.py), and the copies that must stay identical are. Fetches helm/kubectl into tools/bin/ first when missing.
# Exits non-zero with one line per problem. Called by `make test`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools="${BALLAST_TOOLS_DIR:-$root/tools/bin}"
chart=manifests/helm/ballast
failed=0

say() { echo "check-manifests: $*" >&2; }
fail() { say "FAIL: $*"; failed=1; }

BALLAST_TOOLS_DIR="$tools" scripts/fetch-helm.sh
helm="$tools/helm"
kubectl="$tools/kubectl"

python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
    python="$candidate"
    break
  fi
done
[ -n "$python" ] || { say "python3 with PyYAML is needed (Debian package python3-yaml)"; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
export HELM_CACHE_HOME="$out/helm-cache" HELM_CONFIG_HOME="$out/helm-config" HELM_DATA_HOME="$out/helm-data"

# Files that exist twice because Helm and kustomize cannot read outside their folders.
same() {
  if ! cmp -s "$1" "$2"; then fail "$2 differs from $1 (copy it over)"; fi
}
same manifests/crds/nodegroups.ballast.dev.yaml "$chart/crds/nodegroups.ballast.dev.yaml"
same manifests/dashboards/ballast.json "$chart/dashboards/ballast.json"
same examples/policy.yaml manifests/config/policy.yaml
# The chart's default policy is the example policy (scalerAddresses are derived per release).
"$python" - "$chart/values.yaml" examples/policy.yaml <<'EOF' || fail "the chart's values.policy differs from examples/policy.yaml"
import sys, yaml
values = yaml.safe_load(open(sys.argv[1]))["policy"]
example = yaml.safe_load(open(sys.argv[2]))
values.pop("scalerAddresses", None)
example.pop("scalerAddresses", None)
sys.exit(0 if values == example else 1)
EOF

check() {  # check RENDERED CHECKER-ARGS...
  if ! "$python" scripts/check_manifests.py "$@"; then fail "checks failed on $(basename "$1")"; fi
}

render() {  # render NAME NAMESPACE [helm args...]
  local name="$1" ns="$2"
  shift 2
  if ! "$helm" lint "$chart" --strict --namespace "$ns" "$@" >"$out/lint-$name.log" 2>&1; then
    cat "$out/lint-$name.log" >&2
    fail "helm lint ($name)"
  fi
  if ! "$helm" template ballast "$chart" --namespace "$ns" --include-crds "$@" >"$out/$name.yaml" 2>"$out/$name.err"; then
    cat "$out/$name.err" >&2
    fail "helm template ($name)"
    return 1
  fi
}

if render default ballast-system; then
  check "$out/default.yaml" --namespace ballast-system --certs selfSigned
fi
if render selfsigned ballast-system -f "$chart/ci/selfsigned-values.yaml"; then
  check "$out/selfsigned.yaml" --namespace ballast-system --certs selfSigned --nodegroups 1 --servicemonitor --dashboard --dry-run
fi
if render certmanager ballast-system -f "$chart/ci/certmanager-values.yaml"; then
  check "$out/certmanager.yaml" --namespace ballast-system --certs certManager --nodegroups 2 --servicemonitor --dashboard --components scaler,sessions,admission,guard
fi
if render nodepool ballast-system -f "$chart/ci/nodepool-values.yaml"; then
  check "$out/nodepool.yaml" --namespace ballast-system --certs selfSigned --nodegroups 1 --components scaler,nodepool
fi
if render sessions ballast-system -f "$chart/ci/sessions-values.yaml"; then
  check "$out/sessions.yaml" --namespace ballast-system --certs selfSigned --components scaler,sessions
fi
if render sessions-dns ballast-system -f "$chart/ci/sessions-values.yaml" --set sessions.peers.discovery=dns; then
  check "$out/sessions-dns.yaml" --namespace ballast-system --certs selfSigned --components scaler,sessions --peers-discovery dns
fi
if render external-issuer platform-system -f "$chart/ci/external-issuer-values.yaml"; then
  check "$out/external-issuer.yaml" --namespace platform-system --certs certManager --components scaler,admission
fi
# The self-signed CA is one: the Secret's ca.crt is the caBundle of every webhook.
if [ -s "$out/default.yaml" ]; then
  "$python" - "$out/default.yaml" <<'EOF' || fail "self-signed mode: the caBundle is not the Secret's ca.crt"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ca = {d["data"]["ca.crt"] for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-webhook-tls")}
bundles = {h["clientConfig"]["caBundle"] for d in docs if d["kind"].endswith("WebhookConfiguration") for h in d["webhooks"]}
sys.exit(0 if len(ca) == 1 and bundles == ca else 1)
EOF
fi

# The NetworkPolicy's ingress rules for a table of value sets (scripts/check_network_policy.py).
"$python" scripts/check_network_policy.py "$helm" "$chart" || fail "the NetworkPolicy admits other callers than its values name"

if "$kubectl" kustomize manifests/ >"$out/kustomize.yaml" 2>"$out/kustomize.err"; then
  check "$out/kustomize.yaml" --namespace ballast-system --certs certManager --nodegroups 0 --servicemonitor --dashboard
else
  cat "$out/kustomize.err" >&2
  fail "kubectl kustomize manifests/"
fi

if [ "$failed" -ne 0 ]; then
  say "manifests: FAILED"
  exit 1
fi
say "manifests: helm lint + template (default, selfSigned, certManager without nodepool, nodepool without guard, sessions with peers by EndpointSlices and by DNS, external issuer), NetworkPolicy (8 value sets), kustomize: all checks passed"
