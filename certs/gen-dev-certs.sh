#!/usr/bin/env bash
# Development CA and webhook serving certificate (OpenSSL), for `make run`, the tests and
# clusters without cert-manager.
#
#   certs/gen-dev-certs.sh [SERVICE [NAMESPACE [OUT_DIR]]]
#     defaults: ballast-webhook ballast-system ./certs/dev
#
# Writes OUT_DIR/ca.crt, ca.key, tls.crt, tls.key and caBundle (base64 of ca.crt, for the
# webhook configurations). The serving certificate's DNS SANs are SERVICE,
# SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc and SERVICE.NAMESPACE.svc.cluster.local, plus
# localhost and 127.0.0.1 for loopback runs. An existing CA in OUT_DIR is reused, so
# re-running renews the serving certificate without changing what clients trust.
set -euo pipefail

svc="${1:-ballast-webhook}"
ns="${2:-ballast-system}"
out="${3:-./certs/dev}"
days="${BALLAST_CERT_DAYS:-365}"

command -v openssl >/dev/null || { echo "gen-dev-certs: openssl is needed (Debian package openssl)" >&2; exit 1; }
mkdir -p "$out"
umask 077

if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -days 3650 -subj "/CN=ballast-dev-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

ext="$(mktemp)"
trap 'rm -f "$ext" "$out/tls.csr"' EXIT
cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:${svc},DNS:${svc}.${ns},DNS:${svc}.${ns}.svc,DNS:${svc}.${ns}.svc.cluster.local,DNS:localhost,IP:127.0.0.1
EXT
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$out/tls.key.new" -out "$out/tls.csr" -subj "/CN=${svc}.${ns}.svc" 2>/dev/null
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -out "$out/tls.crt.new" -days "$days" -extfile "$ext" 2>/dev/null
openssl verify -CAfile "$out/ca.crt" "$out/tls.crt.new" >/dev/null
# Key first, then certificate: a process re-reading the pair sees the new key with at
# worst the old certificate for an instant, and its reload retries on mismatch.
mv -f "$out/tls.key.new" "$out/tls.key"
mv -f "$out/tls.crt.new" "$out/tls.crt"
base64 -w0 "$out/ca.crt" >"$out/caBundle"
chmod 0644 "$out/ca.crt" "$out/tls.crt" "$out/caBundle"
chmod 0600 "$out/ca.key" "$out/tls.key"
echo "gen-dev-certs: $out/tls.crt for ${svc}.${ns}.svc (CA $out/ca.crt, caBundle $out/caBundle)"
