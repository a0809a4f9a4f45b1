#!/usr/bin/env bash
# Builds the container image (Dockerfile) with Debian's buildah, no Docker engine needed, and
# smoke-tests it: `ballast version` inside the image, and the image runs as 65532.
#
# No registry is reachable, so the base images docker.io/library/debian:bookworm and
# :bookworm-slim are made locally with debootstrap, once (kept in buildah's vfs storage; the
# debootstrap tree is kept under /var/tmp so a lost image store is rebuilt without a download).
# Idempotent: installs only what is missing, reuses the base images and buildah's layer cache.
#
# Environment: BALLAST_IMAGE (tag, default ballast:dev), BUILD_JOBS (default: nproc).
set -euo pipefail

cd "$(dirname "$0")/.."
repo_root=$(pwd)
image=${BALLAST_IMAGE:-ballast:dev}
rootfs=/var/tmp/ballast-bookworm-rootfs
suite=bookworm
mirror=http://deb.debian.org/debian
base_full=docker.io/library/debian:bookworm
base_slim=docker.io/library/debian:bookworm-slim

log() { echo "image: $*"; }
die() { echo "image: error: $*" >&2; exit 1; }

# buildah's vfs store and chroot isolation need root.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "need root or sudo (buildah with vfs storage runs as root)"
  log "re-running as root through sudo"
  exec sudo --preserve-env=BALLAST_IMAGE,BUILD_JOBS "$0" "$@"
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
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/var/tmp/ballast-debootstrap.log 2>&1 \
    || die "debootstrap failed; see /var/tmp/ballast-debootstrap.log"
}

# Commits $rootfs as image $1; with "slim" as $2, trims it the way Debian's -slim images are
# trimmed (no docs, man pages or translations, now or from later apt installs).
make_base() {
  local name=$1 variant=${2:-full} ctr mnt
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
  if [ "$variant" = slim ]; then
    cat >"$mnt/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
    find "$mnt/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$mnt"/usr/share/{groff,info,linda,lintian,man}/* 2>/dev/null || true
    find "$mnt/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  fi
  rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb "$mnt"/var/log/*.log
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --created-by "scripts/image.sh (debootstrap $suite minbase)" "$ctr"
  "${B[@]}" commit -q "$ctr" "$name" >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
}

if have_image "$base_full" && have_image "$base_slim"; then
  log "base images $base_full and $base_slim already present"
else
  ensure_rootfs
  have_image "$base_full" || make_base "$base_full" full
  have_image "$base_slim" || make_base "$base_slim" slim
fi

# --- build -------------------------------------------------------------------------------
version=$(sed -n 's/^project(ballast VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
revision=$(git -C "$repo_root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$repo_root" status --porcelain 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
old_id=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$image" 2>/dev/null || true)

bud_log=$(mktemp /tmp/ballast-bud.XXXXXX)
trap 'rm -f "$bud_log"' EXIT
log "building $image (version ${version:-?}, revision $revision)"
start=$(date +%s)
"${B[@]}" bud --isolation chroot --pull=never --layers --force-rm \
  --build-arg VERSION="${version:-0.0.0}" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --build-arg BUILD_JOBS="${BUILD_JOBS:-$(nproc)}" \
  -t "$image" -f Dockerfile . 2>&1 | tee "$bud_log"
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
trap 'rm -f "$bud_log"; "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT

if "${B[@]}" run --isolation chroot "$ctr" -- ldd /usr/local/bin/ballast | grep 'not found'; then
  die "the image lacks shared libraries the binary needs (above)"
fi
log "ballast version (inside $image):"
"${B[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/ballast version \
  || die "\`ballast version\` failed inside the image"

user=$("${B[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
[ "$user" = "65532:65532" ] || die "image user is '$user', expected 65532:65532"
uid=$("${B[@]}" run --isolation chroot "$ctr" -- id -u)
[ "$uid" = 65532 ] || die "process in the image runs as uid $uid, expected 65532"
log "user $user (processes run as uid $uid)"

"${B[@]}" images --format '{{.Name}}:{{.Tag}}  {{.ID}}  {{.Size}}' "$image" | sed 's/^/image: /'
log "ok: $image"
