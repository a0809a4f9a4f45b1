#pragma once

// Included only by the .cc files of TLS servers: it brings in Asio's SSL types.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/ssl/context.hpp>

#include "core/log.h"
#include "core/result.h"

namespace ballast::net {

// The TLS 1.2 suites servers offer: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305
// only (Kubernetes' choice for its own servers); no CBC, no SHA-1 MACs, no static RSA.
inline constexpr const char* kTls12CipherSuites =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// A TLS 1.2+ server context for one certificate chain and key, both PEM text, offering
// kTls12CipherSuites under TLS 1.2. Errors name what is wrong (unparsable chain,
// unparsable key, key not matching the certificate).
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_server_context(const std::string& chain_pem,
                                                                           const std::string& key_pem);

// "serial=<hex> not_after=<date>" of the context's leaf certificate, for logs.
std::string describe_serving_certificate(boost::asio::ssl::context& context);

// The serving certificate of a TLS server, re-read from its files when they change.
// A thread of its own polls the files every `interval` and compares their contents (not
// mtimes: Secret volumes swap a symlink, and cert-manager may keep timestamps). A changed
// pair that loads replaces the context that current() returns; a pair that fails is
// logged once and the previous context stays.
//
// Owned by one server; current() is safe from any thread. stop() (and the destructor)
// ends the polling thread.
class ServingCertificate {
 public:
  using ReloadObserver = std::function<void(bool loaded)>;

  // `observer` (may be empty) hears of every change the poller acts on.
  static Result<std::unique_ptr<ServingCertificate>> load(std::string cert_file, std::string key_file,
                                                          std::chrono::milliseconds interval, Logger logger,
                                                          ReloadObserver observer);
  ~ServingCertificate();
  ServingCertificate(const ServingCertificate&) = delete;
  ServingCertificate& operator=(const ServingCertificate&) = delete;

  std::shared_ptr<boost::asio::ssl::context> current() const;
  void stop();

 private:
  ServingCertificate(std::string cert_file, std::string key_file, std::chrono::milliseconds interval, Logger logger,
                     ReloadObserver observer);
  void poll_until_stopped();
  // Reloads when the files changed; logs a rejected pair once.
  void check_files();

  const std::string cert_file_;
  const std::string key_file_;
  const std::chrono::milliseconds interval_;
  const Logger logger_;
  const ReloadObserver observer_;

  mutable std::mutex mutex_;  // guards every member below
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::string loaded_pair_;    // cert + key contents behind context_
  std::string rejected_pair_;  // last contents that failed, so they are logged once
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread poller_;
};

}  // namespace ballast::net
