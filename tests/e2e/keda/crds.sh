#!/usr/bin/env bash
# Prints the directory of KEDA's CRDs (keda.sh_scaledobjects.yaml, ...) shipped in the module
# pinned by this wrapper's go.mod, downloading the module if it is not in the module cache.
#
#   kubectl apply --server-side -f "$(tests/e2e/keda/crds.sh)"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
dir="$(GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)"
[ -n "$dir" ] || dir="$(go mod download -json "$(go list -m -f '{{.Path}}@{{.Version}}' github.com/kedacore/keda/v2)" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
[ -f "$dir/config/crd/bases/keda.sh_scaledobjects.yaml" ] || { echo "crds.sh: no CRDs under $dir" >&2; exit 1; }
echo "$dir/config/crd/bases"
