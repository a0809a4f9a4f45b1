#pragma once

#include <string>

#include "core/result.h"

namespace ballast::demo {

struct CertificatePem {
  std::string certificate;
  std::string private_key;
};

// A self-signed certificate for 127.0.0.1 and localhost (P-256, valid one day), made in
// memory with OpenSSL, so the demo serves the webhook over real HTTPS without openssl or
// cert-manager. It is its own CA: a client trusts it by loading the certificate itself.
Result<CertificatePem> make_self_signed_certificate();

}  // namespace ballast::demo
