#include "net/tls_server_context.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/file.h"
#include "core/thread_name.h"

namespace ballast::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_server_context(const std::string& chain_pem,
                                                              const std::string& key_pem) {
  // Built from a native handle: the method constructor throws when OpenSSL fails, and this
  // runs on the reload thread too.
  SSL_CTX* native = SSL_CTX_new(TLS_server_method());
  if (native == nullptr) return Error{ErrorCode::kInternal, "cannot create a TLS context"};
  auto context = std::make_shared<ssl::context>(native);
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // TLS 1.2 keeps to forward-secret AEAD suites, as Kubernetes' own servers do; OpenSSL's
  // default list also offers CBC with SHA-1/SHA-256 MACs. TLS 1.3 suites are all AEAD.
  if (SSL_CTX_set_cipher_list(native, kTls12CipherSuites) != 1) {  // `context` frees `native`
    return Error{ErrorCode::kInternal, "cannot set the TLS 1.2 cipher suites"};
  }
  // Renegotiation is a denial-of-service lever and nothing here needs it.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);

  boost::system::error_code ec;
  context->use_certificate_chain(asio::buffer(chain_pem), ec);
  if (ec) return invalid_argument("TLS certificate: not a usable PEM certificate chain (" + ec.message() + ")");
  context->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return invalid_argument("TLS private key: not a usable PEM private key (" + ec.message() + ")");
  if (SSL_CTX_check_private_key(native) != 1) {
    return invalid_argument("TLS private key does not match the certificate");
  }
  return context;
}

std::string describe_serving_certificate(ssl::context& context) {
  X509* leaf = SSL_CTX_get0_certificate(context.native_handle());
  if (leaf == nullptr) return "no certificate";
  std::string serial = "?";
  if (BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr); number != nullptr) {
    if (char* hex = BN_bn2hex(number); hex != nullptr) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(number);
  }
  std::string not_after = "?";
  if (BIO* bio = BIO_new(BIO_s_mem()); bio != nullptr) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(leaf)) == 1) {
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio, &data);
      not_after.assign(data, static_cast<size_t>(size));
    }
    BIO_free(bio);
  }
  return "serial=" + serial + " not_after=" + not_after;
}

ServingCertificate::ServingCertificate(std::string cert_file, std::string key_file,
                                       std::chrono::milliseconds interval, Logger logger, ReloadObserver observer)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      interval_(interval),
      logger_(std::move(logger)),
      observer_(std::move(observer)) {}

Result<std::unique_ptr<ServingCertificate>> ServingCertificate::load(std::string cert_file, std::string key_file,
                                                                     std::chrono::milliseconds interval,
                                                                     Logger logger, ReloadObserver observer) {
  if (cert_file.empty() || key_file.empty()) return invalid_argument("a TLS server needs a certificate and a key file");
  if (interval <= std::chrono::milliseconds::zero()) return invalid_argument("certificate reload interval must be positive");
  auto cert = read_regular_file(cert_file);
  if (!cert) return cert.error();
  auto key = read_regular_file(key_file);
  if (!key) return key.error();
  auto context = make_tls_server_context(*cert, *key);
  if (!context) return Error{context.error().code, cert_file + ": " + context.error().message};

  std::unique_ptr<ServingCertificate> serving(
      new ServingCertificate(std::move(cert_file), std::move(key_file), interval, std::move(logger), std::move(observer)));
  serving->context_ = std::move(*context);
  serving->loaded_pair_ = *cert + '\0' + *key;
  serving->poller_ = std::thread([raw = serving.get()] {
    name_this_thread("tls-reload");
    raw->poll_until_stopped();
  });
  return serving;
}

ServingCertificate::~ServingCertificate() { stop(); }

std::shared_ptr<ssl::context> ServingCertificate::current() const {
  std::lock_guard lock(mutex_);
  return context_;
}

void ServingCertificate::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void ServingCertificate::poll_until_stopped() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    check_files();
    lock.lock();
  }
}

void ServingCertificate::check_files() {
  auto cert = read_regular_file(cert_file_);
  auto key = cert ? read_regular_file(key_file_) : Result<std::string>(cert.error());
  // Out of descriptors says nothing about the files: try again at the next poll rather
  // than count a rejection (the metric users alert on).
  if (!key && key.error().code == ErrorCode::kUnavailable) {
    logger_.debug("serving certificate not checked", {{"reason", key.error().message}});
    return;
  }
  std::string pair;
  Result<std::shared_ptr<ssl::context>> context = Error{};
  if (!key) {
    pair = "unreadable: " + key.error().message;
  } else {
    pair = *cert + '\0' + *key;
    std::lock_guard lock(mutex_);
    if (pair == loaded_pair_ || pair == rejected_pair_) return;
  }
  // Built outside the lock: parsing keys is the slow part and current() must not wait.
  if (key) context = make_tls_server_context(*cert, *key);
  const Error failure = !key ? key.error() : (context ? Error{} : context.error());

  const bool loaded = key && context;
  {
    std::lock_guard lock(mutex_);
    if (!loaded) {
      if (pair == rejected_pair_) return;
      rejected_pair_ = pair;
      logger_.warn("new serving certificate rejected; keeping the current one",
                   {{"cert_file", cert_file_}, {"key_file", key_file_}, {"reason", failure.message}});
    } else {
      context_ = std::move(*context);
      loaded_pair_ = std::move(pair);
      rejected_pair_.clear();
      logger_.info("serving certificate reloaded",
                   {{"cert_file", cert_file_}, {"certificate", describe_serving_certificate(*context_)}});
    }
  }
  if (observer_) observer_(loaded);
}

}  // namespace ballast::net
