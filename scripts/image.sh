#!/usr/bin/env bash
# Builds the container image (Dockerfile) with Debian's buildah, no Docker engine needed, and
# proves it: `ballast version` and `ballast check-config` run inside the image as uid 65532
# (not root), and the image holds nothing but the binary, the loader and shared libraries, the
# CA bundle and passwd/group/nsswitch.conf — no /bin/sh, no package manager. Prints its size.
#
# No registry is reachable, so the build stage's base docker.io/library/debian:bookworm is made
# locally with debootstrap, once (kept in buildah's vfs storage; the debootstrap tree is kept
# in ~/.cache/ballast/image so a lost image store is rebuilt without a download). The runtime
# stage is `FROM scratch`. The build stage compiles through ccache with its cache in
# ~/.cache/ballast/image/ccache (mounted at /ccache), so a source change recompiles only what
# changed.
# Idempotent: installs only what is missing, reuses the base images and buildah's layer cache.
#
# Environment: BALLAST_IMAGE (tag, default ballast:dev), BUILD_JOBS (default: nproc),
# BALLAST_CACHE_DIR (default ~/.cache/ballast).
# BALLAST_IMAGE_BINARY=build/src/app/ballast: skip the build stage (a full Release compile in the
# image) and make the runtime stage from that binary, built on this Debian machine — for checking
# the runtime image quickly; a release image comes from the whole Dockerfile.
set -euo pipefail

cd "$(dirname "$0")/.."
repo_root=$(pwd)
image=${BALLAST_IMAGE:-ballast:dev}
cache=${BALLAST_CACHE_DIR:-$HOME/.cache/ballast}/image
rootfs=$cache/bookworm-rootfs
ccache_dir=$cache/ccache
suite=bookworm
mirror=http://deb.debian.org/debian
base_full=docker.io/library/debian:bookworm

log() { echo "image: $*"; }
die() { echo "image: error: $*" >&2; exit 1; }

# buildah's vfs store and chroot isolation need root.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "need root or sudo (buildah with vfs storage runs as root)"
  log "re-running as root through sudo"
  exec sudo --preserve-env=BALLAST_IMAGE,BALLAST_IMAGE_BINARY,BUILD_JOBS,BALLAST_CACHE_DIR "$0" "$@"
fi

# --- tools -------------------------------------------------------------------------------
missing=()
for package in buildah debootstrap; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

B=(buildah --storage-driver vfs)
have_image() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# --- base images -------------------------------------------------------------------------
ensure_rootfs() {
  # debootstrap removes $rootfs/debootstrap when it finishes; its presence means a broken run.
  if [ -f "$rootfs/etc/debian_version" ] && [ ! -e "$rootfs/debootstrap" ]; then
    return
  fi
  log "debootstrap $suite (minbase) into $rootfs (takes a minute or a few)"
  rm -rf "$rootfs"
  mkdir -p "$cache"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $cache/debootstrap.log"
}

# Commits $rootfs as image $1.
make_base() {
  local name=$1 ctr mnt
  log "creating base image $name from $rootfs"
  ctr=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr")
  cp -a "$rootfs"/. "$mnt"/
  # The same apt sources as the official image (security and point-release updates too).
  rm -f "$mnt/etc/apt/sources.list"
  cat >"$mnt/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$mnt/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$mnt/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb "$mnt"/var/log/*.log
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --created-by "scripts/image.sh (debootstrap $suite minbase)" "$ctr"
  "${B[@]}" commit -q "$ctr" "$name" >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
}

if have_image "$base_full"; then
  log "base image $base_full already present"
else
  ensure_rootfs
  make_base "$base_full"
fi

# --- build -------------------------------------------------------------------------------
version=$(sed -n 's/^project(ballast VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
revision=$(git -C "$repo_root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$repo_root" status --porcelain 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
old_id=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true)

bud_log=$(mktemp /tmp/ballast-bud.XXXXXX)
context=.
dockerfile=Dockerfile
if [ -n "${BALLAST_IMAGE_BINARY:-}" ]; then
  # The Dockerfile's runtime stage as written, fed by a tree staged here instead of the build stage.
  [ -x "$BALLAST_IMAGE_BINARY" ] || die "BALLAST_IMAGE_BINARY=$BALLAST_IMAGE_BINARY is not an executable"
  context=$(mktemp -d /tmp/ballast-image-context.XXXXXX)
  cp "$BALLAST_IMAGE_BINARY" "$context/ballast"
  strip --strip-unneeded "$context/ballast"
  scripts/image-rootfs.sh "$context/ballast" "$context/rootfs"
  sed -n '/^#* runtime #*$/,$p' Dockerfile | sed 's|^COPY --from=build /rootfs/ /$|COPY rootfs/ /|' >"$context/Dockerfile"
  grep -q '^COPY rootfs/ /$' "$context/Dockerfile" || die "the Dockerfile's runtime stage no longer copies /rootfs/ from the build stage"
  dockerfile=$context/Dockerfile
  revision="$revision-local"
fi
trap 'rm -f "$bud_log"; [ "$context" = . ] || rm -rf "$context"' EXIT
mkdir -p "$ccache_dir"
log "building $image (version ${version:-?}, revision $revision)"
start=$(date +%s)
"${B[@]}" bud --isolation chroot --pull=never --layers --force-rm \
  --volume "$ccache_dir:/ccache" \
  --build-arg VERSION="${version:-0.0.0}" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --build-arg BUILD_JOBS="${BUILD_JOBS:-$(nproc)}" \
  -t "$image" -f "$dockerfile" "$context" 2>&1 | tee "$bud_log"
log "built $image in $(( $(date +%s) - start ))s"

new_id=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$image")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  # The previous build of this tag is now nameless; drop it (shared layers stay).
  "${B[@]}" rmi "$old_id" >/dev/null 2>&1 || true
fi

# The layer cache of earlier builds (and failed ones) would pile up: vfs keeps each layer as a
# full copy, ~1 GB per build step. Keep the layers this build made or reused (the "--> ID"
# lines) and remove the other nameless leaf images, repeatedly, down to what is still shared.
mapfile -t keep < <(sed -n 's/^--> \(Using cache \)\{0,1\}\([0-9a-f]\{11,64\}\)$/\2/p' "$bud_log")
is_kept() { local k; for k in "${keep[@]}"; do [[ $1 == "$k"* || $k == "$1"* ]] && return 0; done; return 1; }
freed=0
while :; do
  removed=0
  while read -r id; do
    if [ -z "$id" ] || is_kept "$id"; then continue; fi
    "${B[@]}" rmi "$id" >/dev/null 2>&1 && { removed=1; freed=$((freed + 1)); }
  done < <("${B[@]}" images -a -q --no-trunc --filter dangling=true 2>/dev/null | sed 's/^sha256://')
  [ $removed -eq 1 ] || break
done
[ $freed -eq 0 ] || log "removed $freed stale cache layer(s) of earlier builds"

# --- smoke checks ------------------------------------------------------------------------
ctr=$("${B[@]}" from --pull=never "$image")
checks=$(mktemp -d /tmp/ballast-image-check.XXXXXX)
trap 'rm -f "$bud_log"; [ "$context" = . ] || rm -rf "$context"; rm -rf "$checks"; "${B[@]}" umount "$ctr" >/dev/null 2>&1 || true; "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT

# Every file in the image is one of these; anything else (a shell, apt, dpkg, a stray tool)
# fails the build. Library names are checked by pattern; `ballast version` below proves the
# loader finds every one the binary needs.
mnt=$("${B[@]}" mount "$ctr")
unexpected=$(cd "$mnt" && find . -not -type d -printf '%P\n' | grep -Ev '^(usr/local/bin/ballast|lib64/ld-linux-x86-64\.so\.2|lib/x86_64-linux-gnu/[^/]+\.so(\.[0-9]+)*|etc/ssl/certs/ca-certificates\.crt|usr/lib/ssl/(cert\.pem|certs)|etc/(passwd|group|nsswitch\.conf))$' || true)
[ -z "$unexpected" ] || die "the image holds files it should not: $(echo "$unexpected" | tr '\n' ' ')"
for tool in bin/sh usr/bin/sh bin/bash usr/bin/apt usr/bin/dpkg; do
  [ ! -e "$mnt/$tool" ] && [ ! -L "$mnt/$tool" ] || die "the image holds /$tool"
done
files=$(cd "$mnt" && find . -not -type d | wc -l)
libraries=$(cd "$mnt" && find lib lib64 -name '*.so*' | wc -l)
log "contents: $files files (ballast, $libraries shared libraries with the loader, CA bundle, passwd/group/nsswitch.conf); no /bin/sh"
"${B[@]}" umount "$ctr" >/dev/null

log "ballast version (inside $image):"
"${B[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/ballast version \
  || die "\`ballast version\` failed inside the image"

user=$("${B[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
[ "$user" = "65532:65532" ] || die "image user is '$user', expected 65532:65532"

# check-config on the example policy, from a directory only 65532 may read: it passes as
# 65532 (or root), and the same directory owned by root must then fail, so not root.
cp examples/policy.yaml "$checks/policy.yaml"
printf 'policy: /etc/ballast/policy.yaml\nlog-level: info\n' >"$checks/ballast.yaml"
chmod 0700 "$checks"
chmod 0600 "$checks"/*
check_config() {
  "${B[@]}" run --isolation chroot -v "$checks:/etc/ballast:ro" "$ctr" -- \
    /usr/local/bin/ballast check-config --config /etc/ballast/ballast.yaml
}
chown -R 65532:65532 "$checks"
check_config >/dev/null || die "\`ballast check-config\` failed inside the image on examples/policy.yaml"
log "ballast check-config --config (examples/policy.yaml): ok"
chown -R 0:0 "$checks"
if check_config >/dev/null 2>&1; then
  die "the image's process read a root-only file: it does not run as 65532"
fi
log "user $user (a root-only config is refused, so the process is not root)"

"${B[@]}" images --format '{{.Name}}:{{.Tag}}  {{.ID}}  {{.Size}}' "$image" | sed 's/^/image: /'
log "ok: $image"
