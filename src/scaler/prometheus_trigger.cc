#include "scaler/prometheus_trigger.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "core/digest.h"
#include "core/net_address.h"
#include "scaler/metadata_fields.h"
#include "scaler/trigger_spec.h"

namespace ballast::scaler {
namespace {

constexpr std::array<std::string_view, 10> kKeys = {
    "serverAddress", "query", "threshold", "activationThreshold", "tenant", "customHeaders", "queryParameters",
    "ignoreNullValues", "unsafeSsl", "timeout"};

constexpr std::chrono::milliseconds kDefaultPollInterval{2'000};
constexpr size_t kReadableQueryLength = 40;

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 7230 token: what a header name may hold.
bool is_token(std::string_view text) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
  });
}

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); });
}

Result<std::string> parse_server_address(const Metadata& metadata) {
  auto address = required(metadata, "serverAddress", "prometheus");
  if (!address) return address.error();
  std::string text = *address;
  // Every message shows the address redacted: it may carry user:password@ or a key.
  const std::string shown = redact_url(text);
  const std::string scheme = lower(text.substr(0, text.find("://")));
  if (text.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
    return invalid_argument("serverAddress must start with http:// or https://, got \"" + shown + "\"");
  }
  const std::string rest = text.substr(text.find("://") + 3);
  const std::string authority = rest.substr(0, rest.find('/'));
  // Any '@' counts: a password holding an unescaped '/' would otherwise pass as a path
  // (and then show in the source's name).
  if (authority.empty() || authority.front() == ':' || text.find('@') != std::string::npos) {
    return invalid_argument("serverAddress must name a host and no credentials (use an auth profile), got \"" +
                            shown + "\"");
  }
  if (text.find_first_of("?#") != std::string::npos || has_control_characters(text) ||
      text.find(' ') != std::string::npos) {
    return invalid_argument("serverAddress must be a base URL without query, fragment or spaces, got \"" + shown +
                            "\" (use queryParameters for parameters)");
  }
  while (text.ends_with('/')) text.pop_back();
  if (text.ends_with("/api/v1/query")) {
    return invalid_argument("serverAddress must not end with /api/v1/query: ballast appends it");
  }
  return text;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_headers(const Metadata& metadata,
                                                                       const std::string& tenant) {
  auto headers = pairs_field(metadata, "customHeaders");
  if (!headers) return headers.error();
  for (auto& [name, value] : *headers) {
    // Never quote a value: it is often a credential (Authorization).
    if (!is_token(name)) {
      return invalid_argument("customHeaders must be Name=value,Name2=value2 with header names (a name is not)");
    }
    if (has_control_characters(value)) {
      return invalid_argument("customHeaders: the value of " + name + " holds control characters");
    }
    const std::string folded = lower(name);
    if (folded == "host" || folded == "content-length" || folded == "transfer-encoding" || folded == "connection") {
      return invalid_argument("customHeaders may not set " + name + ": ballast manages it");
    }
    if (folded == "x-scope-orgid" && !tenant.empty()) {
      return invalid_argument("customHeaders sets X-Scope-OrgID and tenant is set too: use tenant only");
    }
  }
  return headers;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_query_parameters(const Metadata& metadata) {
  auto parameters = pairs_field(metadata, "queryParameters");
  if (!parameters) return parameters.error();
  for (const auto& [name, value] : *parameters) {
    if (name == "query" || name == "time") {
      return invalid_argument("queryParameters may not set \"" + name + "\": ballast sends it");
    }
  }
  return parameters;
}

// KEDA reads a bare number as milliseconds for this key; ballast does the same so copied
// triggers keep their meaning.
Result<std::chrono::milliseconds> parse_timeout(const Metadata& metadata) {
  const std::string text = value_or(metadata, "timeout");
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    auto millis = integer_field(metadata, "timeout", std::nullopt);
    if (!millis) return millis.error();
    if (*millis <= 0) return invalid_argument("timeout must be greater than zero");
    return std::chrono::milliseconds{*millis};
  }
  return duration_field(metadata, "timeout", std::chrono::milliseconds{3'000});
}

// Escapes the separator so distinct settings never produce equal keys.
void append_field(std::string& key, std::string_view name, std::string_view value) {
  key += '|';
  key += name;
  key += '=';
  for (char c : value) {
    if (c == '|' || c == '\\') key += '\\';
    key += c;
  }
}

// "prometheus-<words of the query>-<hash of the source key>": readable in `kubectl get
// hpa`, distinct for every distinct source key even when two queries read alike.
std::string default_metric_name(const std::string& query, const std::string& source_key) {
  std::string words;
  for (char c : query) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      words += static_cast<char>(std::tolower(u));
    } else if (!words.empty() && words.back() != '-') {
      words += '-';
    }
    if (words.size() >= kReadableQueryLength) break;
  }
  while (!words.empty() && words.back() == '-') words.pop_back();
  return normalize_metric_name("prometheus-" + words + "-" + stable_hash_hex(source_key));
}

}  // namespace

std::span<const std::string_view> prometheus_trigger_keys() { return kKeys; }

Status parse_prometheus_trigger(const Metadata& metadata, TriggerSpec& spec) {
  PrometheusTrigger prom;
  auto address = parse_server_address(metadata);
  if (!address) return address.error();
  prom.server_address = std::move(*address);

  auto query = required(metadata, "query", "prometheus");
  if (!query) return query.error();
  if (std::all_of(query->begin(), query->end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return invalid_argument("query must not be blank");
  }
  prom.query = std::move(*query);

  prom.tenant = value_or(metadata, "tenant");
  if (has_control_characters(prom.tenant)) return invalid_argument("tenant must not contain control characters");
  auto headers = parse_headers(metadata, prom.tenant);
  if (!headers) return headers.error();
  prom.custom_headers = std::move(*headers);
  auto parameters = parse_query_parameters(metadata);
  if (!parameters) return parameters.error();
  prom.query_parameters = std::move(*parameters);

  auto ignore_null = bool_field(metadata, "ignoreNullValues", false);
  if (!ignore_null) return ignore_null.error();
  prom.ignore_null_values = *ignore_null;
  auto unsafe_ssl = bool_field(metadata, "unsafeSsl", false);
  if (!unsafe_ssl) return unsafe_ssl.error();
  prom.unsafe_ssl = *unsafe_ssl;
  auto timeout = parse_timeout(metadata);
  if (!timeout) return timeout.error();
  prom.timeout = *timeout;

  auto thresholds = thresholds_field<double>(metadata, "threshold", "activationThreshold", std::nullopt,
                                             /*activation_may_be_negative=*/true);
  if (!thresholds) return thresholds.error();
  spec.threshold = thresholds->target;
  spec.activation_threshold = thresholds->activation;
  if (spec.poll_interval.count() == 0) spec.poll_interval = kDefaultPollInterval;

  // Everything that changes the value or how it is fetched; never thresholds, so
  // triggers that only differ there share one poller. The name (logs, the source_key
  // label, error messages) holds header and parameter names only: their values are often
  // credentials (Authorization, api_key). The key adds a digest of the values so triggers
  // that differ only there still get their own poller.
  std::string name = "prometheus";
  std::string values;
  append_field(name, "server", prom.server_address);
  append_field(name, "tenant", prom.tenant);
  append_field(name, "query", prom.query);
  for (const auto& [header, value] : prom.custom_headers) {
    append_field(name, "header", header);
    append_field(values, header, value);
  }
  for (const auto& [parameter, value] : prom.query_parameters) {
    append_field(name, "param", parameter);
    append_field(values, parameter, value);
  }
  append_field(name, "ignoreNullValues", prom.ignore_null_values ? "true" : "false");
  append_field(name, "unsafeSsl", prom.unsafe_ssl ? "true" : "false");
  append_field(name, "timeout", std::to_string(prom.timeout.count()) + "ms");
  append_field(name, "auth", spec.auth);
  spec.source_key = values.empty() ? name : name + "|values=sha256:" + sha256_hex(values).substr(0, 16);
  spec.source_name = std::move(name);
  if (spec.metric_name.empty()) spec.metric_name = default_metric_name(prom.query, spec.source_key);
  spec.detail = std::move(prom);
  return Ok{};
}

}  // namespace ballast::scaler
