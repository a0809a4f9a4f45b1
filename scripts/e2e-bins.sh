#!/usr/bin/env bash
# Builds the test-only real systems from their pinned Go modules (tests/e2e/*/go.mod) into a
# cache outside the checkout, each module's binaries keyed by its own go.mod and go.sum, and
# prints one bin directory that links them all.
# A warm run finds the binaries and builds nothing; a cold one takes long on 2 cores (see
# README "End-to-end tests"), so it prints progress.
#
#   bin="$(scripts/e2e-bins.sh)"     # → ~/.cache/ballast/e2e/<key>/bin
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BALLAST_CACHE_DIR:-$HOME/.cache/ballast}"
say() { echo "e2e-bins: $*" >&2; }

PATH="$PATH:/usr/local/go/bin"  # where the machine's Go lives, in case PATH lacks it
command -v go >/dev/null || { say "Go is needed (the machine's Go, or Debian's golang-go >= 1.25)"; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"

module_key() { cat "$root/tests/e2e/$1/go.mod" "$root/tests/e2e/$1/go.sum" | sha256sum | cut -c1-16; }
bin="$cache/e2e/bin-$(for dir in "$root"/tests/e2e/*/go.mod; do module_key "$(basename "$(dirname "$dir")")"; done | sha256sum | cut -c1-16)"
mkdir -p "$bin"

# build MODULE_DIR OUTPUT PACKAGE [LDFLAGS]: one binary, skipped when its module's pins
# are unchanged; linked into $bin.
build() {
  local dir="$1" out="$2" package="$3" ldflags="${4:-}"
  local built="$cache/e2e/$dir-$(module_key "$dir")"
  if [ ! -x "$built/$out" ]; then
    local started=$SECONDS
    say "building $out from $package (cold: several minutes on 2 cores) ..."
    mkdir -p "$built"
    (cd "$root/tests/e2e/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$built/$out.tmp" "$package")
    mv -f "$built/$out.tmp" "$built/$out"
    say "built $out in $((SECONDS - started)) s"
  fi
  ln -sfn "$built/$out" "$bin/$out"
}

k8s_release="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$root/tests/e2e/cluster/go.mod")"
k8s_minor="$(echo "$k8s_release" | cut -d. -f2)"
# The version fields the binaries report; kube-apiserver's emulation-version checks and
# KEDA's version gate read them (unset, they say v0.0.0-master).
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_release \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_release"

build cluster etcd go.etcd.io/etcd/server/v3
for component in kube-apiserver kube-controller-manager kube-scheduler; do
  build cluster "$component" "k8s.io/kubernetes/cmd/$component" "$k8s_ldflags"
done
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
keda_release="$(awk '$1 == "github.com/kedacore/keda/v2" {print $2; exit}' "$root/tests/e2e/keda/go.mod")"
for component in operator adapter; do
  build keda "keda-$component" "github.com/kedacore/keda/v2/cmd/$component" \
    "-X github.com/kedacore/keda/v2/version.Version=${keda_release#v}"
done
echo "$bin"
