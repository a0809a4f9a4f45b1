#!/usr/bin/env bash
# Prints the path of the VerticalPodAutoscaler CRDs (deploy/vpa-v1-crd-gen.yaml) shipped in the
# module pinned by this directory's go.mod (checked against go.sum), downloading it if it is
# not in the module cache.
#
#   kubectl apply --server-side -f "$(tests/e2e/vpa/crds.sh)"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
dir="$(go mod download -json k8s.io/autoscaler/vertical-pod-autoscaler | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
crd="$dir/deploy/vpa-v1-crd-gen.yaml"
[ -f "$crd" ] || { echo "crds.sh: no $crd" >&2; exit 1; }
echo "$crd"
