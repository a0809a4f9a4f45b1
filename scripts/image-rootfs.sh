#!/usr/bin/env bash
# Stages the runtime image's whole file tree: the binary, the dynamic loader and every shared
# library the loader resolves for it (ldd: NEEDED entries, transitively), the CA bundle, and
# passwd/group entries for 65532. The Dockerfile's build stage runs it and copies the result
# into a `FROM scratch` stage; it also runs on a Debian host, where `chroot ROOTFS
# /usr/local/bin/ballast version` proves the tree is complete.
#
# Usage: scripts/image-rootfs.sh BINARY ROOTFS   (ROOTFS must not exist yet)
set -euo pipefail

die() { echo "image-rootfs: error: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 BINARY ROOTFS"
binary=$1
rootfs=$2
[ -x "$binary" ] || die "$binary is not an executable file"
[ ! -e "$rootfs" ] || die "$rootfs exists already; give a new directory"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca_bundle" ] || die "$ca_bundle is missing (install ca-certificates in the build stage)"

if ldd "$binary" | grep 'not found' >&2; then
  die "$binary needs libraries this system lacks (above)"
fi
# ldd prints "libx.so.1 => /path/libx.so.1 (0x…)" for each library and "/lib64/ld-linux…
# (0x…)" for the loader; linux-vdso has no file. Each keeps the path the loader used (the
# loader's built-in search path has /lib/x86_64-linux-gnu, so no ld.so.cache is needed), with
# symlinks resolved: the image has no merged-/usr links to follow.
mapfile -t libraries < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ ${#libraries[@]} -gt 0 ] || die "ldd listed no libraries for $binary (a static binary needs no staging)"

install -D -m 0755 "$binary" "$rootfs/usr/local/bin/ballast"
for library in "${libraries[@]}"; do
  mkdir -p "$rootfs$(dirname "$library")"
  cp -L "$library" "$rootfs$library"  # keeps the mode: the loader must stay executable
done

# Outbound TLS (Kafka, Prometheus, the Kubernetes and provider APIs): OpenSSL's default paths
# (/usr/lib/ssl/cert.pem, as on Debian), gRPC's and librdkafka's probe of the Debian path.
install -D -m 0644 "$ca_bundle" "$rootfs$ca_bundle"
mkdir -p "$rootfs/usr/lib/ssl"
ln -s "$ca_bundle" "$rootfs/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"

# The only account: 65532 (the image's USER), no login shell in an image without one.
mkdir -p "$rootfs/etc"
echo 'root:x:0:0:root:/nonexistent:/usr/sbin/nologin' >"$rootfs/etc/passwd"
echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
# Without this file glibc asks DNS before /etc/hosts; Kubernetes writes /etc/hosts for the pod.
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
# `--kubeconfig` with inline certificate data writes them under /tmp (a mount when the root
# filesystem is read-only).
install -d -m 1777 "$rootfs/tmp"

echo "image-rootfs: staged $rootfs: ballast, ${#libraries[@]} libraries (loader included), CA bundle, passwd/group for 65532"
