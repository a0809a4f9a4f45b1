#include "net/tls_server_context.h"

#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include "fakes/test_certs.h"

TEST_CASE("under TLS 1.2 the server offers only ECDHE suites with AEAD ciphers", "[tls]") {
  ballast::testing::TestCerts certs;
  REQUIRE(certs.ok());
  auto context = ballast::net::make_tls_server_context(certs.read("server.crt"), certs.read("server.key"));
  REQUIRE(context.ok());
  SSL_CTX* native = (*context)->native_handle();
  CHECK(SSL_CTX_get_min_proto_version(native) == TLS1_2_VERSION);
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(native);
  REQUIRE(ciphers != nullptr);
  int tls12 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    INFO(SSL_CIPHER_get_name(cipher));
    CHECK(SSL_CIPHER_is_aead(cipher) == 1);  // no CBC with SHA-1/SHA-256 MACs
    if (SSL_CIPHER_get_kx_nid(cipher) == NID_kx_any) continue;  // TLS 1.3 suites: AEAD, no kx of their own
    ++tls12;
    CHECK(SSL_CIPHER_get_kx_nid(cipher) == NID_kx_ecdhe);
    const int nid = SSL_CIPHER_get_cipher_nid(cipher);
    CHECK((nid == NID_aes_128_gcm || nid == NID_aes_256_gcm || nid == NID_chacha20_poly1305));
  }
  CHECK(tls12 == 6);
}
