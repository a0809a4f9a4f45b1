#include "fakes/fake_apiserver.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/base64.h"
#include "fakes/loopback_server.h"

namespace ballast::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The resources served out of the box. Cluster-scoped ones say so; has_status means the
// resource has a /status subresource (main-resource writes keep the stored status).
const FakeResourceType kBuiltinResources[] = {
    {"", "v1", "pods", "Pod", true, true},
    {"", "v1", "nodes", "Node", false, true},
    {"", "v1", "namespaces", "Namespace", false, true},
    {"", "v1", "events", "Event", true, false},
    {"", "v1", "configmaps", "ConfigMap", true, false},
    {"", "v1", "secrets", "Secret", true, false},
    {"", "v1", "services", "Service", true, true},
    {"", "v1", "endpoints", "Endpoints", true, false},
    {"", "v1", "serviceaccounts", "ServiceAccount", true, false},
    {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, true},
    {"", "v1", "persistentvolumes", "PersistentVolume", false, true},
    {"apps", "v1", "deployments", "Deployment", true, true},
    {"apps", "v1", "statefulsets", "StatefulSet", true, true},
    {"apps", "v1", "daemonsets", "DaemonSet", true, true},
    {"apps", "v1", "replicasets", "ReplicaSet", true, true},
    {"apps", "v1", "controllerrevisions", "ControllerRevision", true, false},
    {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, true},
    {"coordination.k8s.io", "v1", "leases", "Lease", true, false},
    {"scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, false},
    {"events.k8s.io", "v1", "events", "Event", true, false},
    {"batch", "v1", "jobs", "Job", true, true},
    {"batch", "v1", "cronjobs", "CronJob", true, true},
    {"autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, true},
    {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, true},
    {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false,
     false},
    {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false,
     false},
    {"keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", true, true},
    {"keda.sh", "v1alpha1", "scaledjobs", "ScaledJob", true, true},
    {"keda.sh", "v1alpha1", "triggerauthentications", "TriggerAuthentication", true, true},
    {"keda.sh", "v1alpha1", "clustertriggerauthentications", "ClusterTriggerAuthentication", false, true},
    {"ballast.dev", "v1alpha1", "nodegroups", "NodeGroup", false, true},
};

constexpr std::string_view kPodsKey = "/pods";
constexpr std::string_view kPdbsKey = "policy/poddisruptionbudgets";

std::string type_key(std::string_view group, std::string_view resource) {
  return std::string(group) + "/" + std::string(resource);
}
std::string type_key(const FakeResourceType& type) { return type_key(type.group, type.resource); }
std::string group_version(const FakeResourceType& type) {
  return type.group.empty() ? type.version : type.group + "/" + type.version;
}
// Built-in (compiled-in) types omit kind/apiVersion on list items; CRDs keep them.
bool is_builtin_group(const std::string& group) {
  return group.empty() || group.find('.') == std::string::npos ||
         (group.size() > 7 && group.compare(group.size() - 7, 7, ".k8s.io") == 0);
}
std::string qualified(const FakeResourceType& type) {
  return type.group.empty() ? type.resource : type.resource + "." + type.group;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto part = q.substr(0, amp);
    const auto eq = part.find('=');
    if (!part.empty()) {
      out[url_decode(part.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point tp) {
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string reason_for(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "";
  }
}

json status_body(int code, std::string_view reason, std::string_view message, json details = nullptr) {
  json body = {{"kind", "Status"},         {"apiVersion", "v1"},     {"metadata", json::object()},
               {"status", "Failure"},      {"message", message},     {"reason", reason},
               {"code", code}};
  if (details.is_object() && !details.empty()) body["details"] = std::move(details);
  return body;
}

json object_details(const FakeResourceType& type, std::string_view name) {
  json details = {{"name", name}, {"kind", type.resource}};
  if (!type.group.empty()) details["group"] = type.group;
  return details;
}

// ---- Selectors ----

struct LabelRequirement {
  enum class Op { kEq, kNe, kIn, kNotIn, kExists, kNotExists };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;
};
// nullopt-able: a null LabelSelector matches nothing; an empty vector matches everything.
using LabelSelector = std::vector<LabelRequirement>;

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
}

std::optional<LabelSelector> parse_label_selector(std::string_view s) {
  LabelSelector out;
  std::vector<std::string> terms;
  std::string current;
  int depth = 0;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      terms.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  terms.push_back(current);
  if (depth != 0) return std::nullopt;
  for (const auto& raw : terms) {
    const std::string term = trim(raw);
    if (term.empty()) {
      if (terms.size() == 1) break;
      return std::nullopt;
    }
    LabelRequirement req;
    if (term[0] == '!') {
      req.key = trim(std::string_view(term).substr(1));
      req.op = LabelRequirement::Op::kNotExists;
      if (req.key.empty() || !std::all_of(req.key.begin(), req.key.end(), is_key_char)) return std::nullopt;
      out.push_back(std::move(req));
      continue;
    }
    size_t i = 0;
    while (i < term.size() && is_key_char(term[i])) ++i;
    req.key = term.substr(0, i);
    if (req.key.empty()) return std::nullopt;
    const std::string rest = trim(std::string_view(term).substr(i));
    auto value_ok = [](const std::string& v) {
      return std::all_of(v.begin(), v.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
    };
    if (rest.empty()) {
      req.op = LabelRequirement::Op::kExists;
    } else if (rest.rfind("==", 0) == 0 || rest.rfind("!=", 0) == 0 || rest[0] == '=') {
      req.op = rest[0] == '!' ? LabelRequirement::Op::kNe : LabelRequirement::Op::kEq;
      const size_t skip = (rest[0] == '=' && (rest.size() < 2 || rest[1] != '=')) ? 1 : 2;
      req.values.push_back(trim(std::string_view(rest).substr(skip)));
      if (!value_ok(req.values[0])) return std::nullopt;
    } else {
      const bool notin = rest.rfind("notin", 0) == 0;
      const bool in = !notin && rest.rfind("in", 0) == 0;
      if (!notin && !in) return std::nullopt;
      req.op = notin ? LabelRequirement::Op::kNotIn : LabelRequirement::Op::kIn;
      const std::string set = trim(std::string_view(rest).substr(notin ? 5 : 2));
      if (set.size() < 2 || set.front() != '(' || set.back() != ')') return std::nullopt;
      std::string_view inner(set);
      inner = inner.substr(1, inner.size() - 2);
      while (true) {
        const auto comma = inner.find(',');
        std::string value = trim(inner.substr(0, comma));
        if (!value_ok(value)) return std::nullopt;
        if (!value.empty()) req.values.push_back(std::move(value));
        if (comma == std::string_view::npos) break;
        inner.remove_prefix(comma + 1);
      }
      if (req.values.empty()) return std::nullopt;
    }
    out.push_back(std::move(req));
  }
  return out;
}

bool labels_match(const LabelSelector& selector, const json& object) {
  const json* labels = nullptr;
  if (object.contains("metadata") && object["metadata"].contains("labels") &&
      object["metadata"]["labels"].is_object()) {
    labels = &object["metadata"]["labels"];
  }
  for (const auto& req : selector) {
    const bool has = labels != nullptr && labels->contains(req.key) && (*labels)[req.key].is_string();
    const std::string value = has ? (*labels)[req.key].get<std::string>() : "";
    const bool in_set = has && std::find(req.values.begin(), req.values.end(), value) != req.values.end();
    switch (req.op) {
      case LabelRequirement::Op::kEq:
      case LabelRequirement::Op::kIn:
        if (!in_set) return false;
        break;
      case LabelRequirement::Op::kNe:
      case LabelRequirement::Op::kNotIn:
        if (in_set) return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

// metav1.LabelSelector (matchLabels + matchExpressions). A null selector → nullopt.
std::optional<LabelSelector> selector_from_json(const json& sel) {
  if (!sel.is_object()) return std::nullopt;
  LabelSelector out;
  if (sel.contains("matchLabels") && sel["matchLabels"].is_object()) {
    for (const auto& [k, v] : sel["matchLabels"].items()) {
      out.push_back({k, LabelRequirement::Op::kEq, {v.is_string() ? v.get<std::string>() : v.dump()}});
    }
  }
  if (sel.contains("matchExpressions") && sel["matchExpressions"].is_array()) {
    for (const auto& e : sel["matchExpressions"]) {
      LabelRequirement req;
      req.key = e.value("key", "");
      const std::string op = e.value("operator", "");
      if (op == "In") req.op = LabelRequirement::Op::kIn;
      else if (op == "NotIn") req.op = LabelRequirement::Op::kNotIn;
      else if (op == "Exists") req.op = LabelRequirement::Op::kExists;
      else if (op == "DoesNotExist") req.op = LabelRequirement::Op::kNotExists;
      else return LabelSelector{{"", LabelRequirement::Op::kIn, {}}};  // invalid → matches nothing
      if (e.contains("values") && e["values"].is_array()) {
        for (const auto& v : e["values"]) {
          if (v.is_string()) req.values.push_back(v.get<std::string>());
        }
      }
      out.push_back(std::move(req));
    }
  }
  return out;
}

struct FieldRequirement {
  std::vector<std::string> path;
  bool negate = false;
  std::string value;
};

std::optional<std::vector<FieldRequirement>> parse_field_selector(std::string_view s) {
  std::vector<FieldRequirement> out;
  if (trim(s).empty()) return out;
  while (true) {
    const auto comma = s.find(',');
    const std::string term = trim(s.substr(0, comma));
    FieldRequirement req;
    size_t op = term.find("!=");
    size_t skip = 2;
    if (op != std::string::npos) {
      req.negate = true;
    } else if ((op = term.find("==")) == std::string::npos) {
      op = term.find('=');
      skip = 1;
    }
    if (op == std::string::npos || op == 0) return std::nullopt;
    const std::string field = trim(std::string_view(term).substr(0, op));
    req.value = trim(std::string_view(term).substr(op + skip));
    std::string_view f(field);
    while (true) {
      const auto dot = f.find('.');
      req.path.emplace_back(f.substr(0, dot));
      if (dot == std::string_view::npos) break;
      f.remove_prefix(dot + 1);
    }
    out.push_back(std::move(req));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::string field_value(const json& object, const std::vector<std::string>& path) {
  const json* cur = &object;
  for (const auto& part : path) {
    if (!cur->is_object() || !cur->contains(part)) return "";
    cur = &(*cur)[part];
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

bool fields_match(const std::vector<FieldRequirement>& selector, const json& object) {
  for (const auto& req : selector) {
    if ((field_value(object, req.path) == req.value) == req.negate) return false;
  }
  return true;
}

// ---- Object helpers ----

const json& meta(const json& object) {
  static const json kEmpty = json::object();
  return object.contains("metadata") && object["metadata"].is_object() ? object["metadata"] : kEmpty;
}
std::string meta_string(const json& object, const char* field) {
  const json& m = meta(object);
  return m.contains(field) && m[field].is_string() ? m[field].get<std::string>() : "";
}
std::string object_key(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name);
}

bool pod_ready(const json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return false;
  for (const auto& c : pod["status"]["conditions"]) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

bool is_terminating(const json& object) {
  return meta(object).contains("deletionTimestamp") && !meta(object)["deletionTimestamp"].is_null();
}

bool has_finalizers(const json& object) {
  const json& m = meta(object);
  return m.contains("finalizers") && m["finalizers"].is_array() && !m["finalizers"].empty();
}

// Everything except metadata and status: a change here bumps metadata.generation.
json spec_part(const json& object) {
  json copy = object;
  if (copy.is_object()) {
    copy.erase("metadata");
    copy.erase("status");
  }
  return copy;
}

// intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true).
int scaled_value(const json& v, int total) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      s.pop_back();
      const double pct = std::atof(s.c_str());
      return static_cast<int>(std::ceil(pct * total / 100.0));
    }
    return std::atoi(s.c_str());
  }
  return 0;
}

// ---- Internal plumbing types ----

struct Request {
  std::string method;
  std::string path;
  std::string raw_query;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> query;
  unsigned version = 11;
  bool keep_alive = true;

  std::string param(const char* name) const {
    const auto it = query.find(name);
    return it == query.end() ? "" : it->second;
  }
  bool has(const char* name) const { return query.count(name) != 0; }
};

struct Response {
  int status = 200;
  json body;
  std::string content_type = "application/json";
  std::string text;  // used when body is null
  std::optional<int> retry_after;  // seconds, sent as Retry-After
};

Response error(int code, std::string_view message, json details = nullptr, std::string_view reason = "") {
  Response r;
  r.status = code;
  r.body = status_body(code, reason.empty() ? reason_for(code) : reason, message, std::move(details));
  return r;
}
Response ok(int code, json body) {
  Response r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

struct Event {
  uint64_t rv = 0;
  std::string type_key;
  std::string ns;
  std::string type;  // ADDED / MODIFIED / DELETED
  json object;       // new state (DELETED: the last state, with the deletion RV)
  json old_object;   // previous state (null for ADDED)
};

struct Watcher {
  std::string path;
  std::string type_key;
  std::string ns;  // "" = all namespaces
  LabelSelector labels;
  std::vector<FieldRequirement> fields;
  std::string kind;
  std::string api_version;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<json> queue;  // ready-to-send {"type","object"}
  bool dropped = false;
  bool cut_next_event = false;  // send half of the next event line, then drop

  bool matches(const json& object) const {
    if (object.is_null()) return false;
    if (!ns.empty() && meta_string(object, "namespace") != ns) return false;
    return labels_match(labels, object) && fields_match(fields, object);
  }
  // The event this watcher sees (null = none): objects moving into or out of the
  // selector become ADDED/DELETED, as with the real watch cache.
  json translate(const Event& e) const {
    if (e.type_key != type_key) return nullptr;
    const bool new_m = e.type != "DELETED" && matches(e.object);
    const bool old_m = e.type == "DELETED" ? matches(e.object) : matches(e.old_object);
    std::string type;
    if (e.type == "ADDED") {
      if (new_m) type = "ADDED";
    } else if (e.type == "MODIFIED") {
      if (new_m && old_m) type = "MODIFIED";
      else if (new_m) type = "ADDED";
      else if (old_m) type = "DELETED";
    } else if (old_m) {
      type = "DELETED";
    }
    if (type.empty()) return nullptr;
    return json{{"type", type}, {"object", e.object}};
  }
};

struct FailRule {
  std::string method;
  std::string prefix;
  int status = 500;
  int remaining = 1;
  std::optional<int> retry_after;
  bool lists_only = false;
};

struct PendingDeletion {
  Clock::time_point when;
  std::string type_key;
  std::string key;
  std::string uid;
};

struct ListSnapshot {
  uint64_t rv = 0;
  std::vector<json> items;
};

struct WatchSpec {
  FakeResourceType type;
  std::string ns;
  std::string name;
};

struct Dispatch {
  std::optional<Response> response;
  std::optional<WatchSpec> watch;
};

}  // namespace

struct FakeApiServer::Impl {
  explicit Impl(FakeApiServerOptions o) : options(o) {
    for (const auto& t : kBuiltinResources) types[type_key(t)] = t;
  }

  FakeApiServerOptions options;

  mutable std::mutex mu;  // guards everything below down to `pending`
  std::map<std::string, FakeResourceType> types;
  std::set<std::string> absent_groups;
  std::map<std::string, std::map<std::string, json>> objects;  // type key → "ns/name" → object
  uint64_t rv = 1;
  uint64_t min_valid_rv = 1;  // a watch from RV r is servable iff r >= min_valid_rv
  uint64_t uid_counter = 0;
  std::mt19937 rng{42};
  std::deque<Event> history;
  std::map<uint64_t, ListSnapshot> snapshots;
  uint64_t next_snapshot = 1;
  std::vector<std::shared_ptr<Watcher>> watchers;
  std::vector<FailRule> fail_rules;
  std::chrono::milliseconds latency{0};
  std::string required_token;  // "" = no authentication
  size_t unauthorized = 0;
  std::vector<FakeApiRequest> log;
  std::vector<PendingDeletion> pending;
  bool in_pdb_recompute = false;
  std::condition_variable timer_cv;

  LoopbackServer server{"fake apiserver", [this](tcp::socket& socket) { return serve(socket); }};
  std::atomic<bool> stopping{false};
  bool running = false;
  std::thread timer_thread;

  // ---------------- store (all with mu held) ----------------

  const FakeResourceType* find_type(std::string_view group, std::string_view resource) const {
    const auto it = types.find(type_key(group, resource));
    return it == types.end() ? nullptr : &it->second;
  }

  // "v1"+"Pod" / "apps/v1"+"deployments" → type.
  const FakeResourceType* resolve(std::string_view api_version, std::string_view kind_or_resource) const {
    const auto slash = api_version.find('/');
    const std::string group = slash == std::string_view::npos ? "" : std::string(api_version.substr(0, slash));
    const std::string want = lower(kind_or_resource);
    for (const auto& [key, t] : types) {
      if (t.group == group && (t.resource == want || lower(t.kind) == want)) return &t;
    }
    return nullptr;
  }

  // "pods" / "Pod" / "events.k8s.io/events" → type (first match, core group first).
  const FakeResourceType* resolve_any(std::string_view resource) const {
    const auto slash = resource.rfind('/');
    if (slash != std::string_view::npos) {
      return find_type(resource.substr(0, slash), lower(resource.substr(slash + 1)));
    }
    const std::string want = lower(resource);
    for (const auto& [key, t] : types) {
      if (t.resource == want || lower(t.kind) == want) return &t;
    }
    return nullptr;
  }

  std::string new_uid() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "fa4e0000-0000-4000-8000-%012llu", static_cast<unsigned long long>(++uid_counter));
    return buf;
  }

  std::string random_suffix() {
    static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    std::string out;
    for (int i = 0; i < 5; ++i) out += kAlphabet[rng() % (sizeof kAlphabet - 1)];
    return out;
  }

  json* find_object(const FakeResourceType& type, const std::string& key) {
    auto coll = objects.find(type_key(type));
    if (coll == objects.end()) return nullptr;
    auto it = coll->second.find(key);
    return it == coll->second.end() ? nullptr : &it->second;
  }

  // Records one write: bumps the RV, stores (or erases) the object, appends history,
  // fans out to watchers, then keeps PDB status and owner GC consistent.
  json commit(const FakeResourceType& type, const std::string& key, const std::string& event_type, json object,
              json old_object, bool orphan = false) {
    ++rv;
    object["metadata"]["resourceVersion"] = std::to_string(rv);
    const std::string tk = type_key(type);
    auto& coll = objects[tk];
    if (event_type == "DELETED") {
      coll.erase(key);
    } else {
      coll[key] = object;
    }
    Event e{rv, tk, meta_string(object, "namespace"), event_type, object, std::move(old_object)};
    for (const auto& w : watchers) {
      json ev = w->translate(e);
      if (ev.is_null()) continue;
      std::lock_guard lock(w->mu);
      w->queue.push_back(std::move(ev));
      w->cv.notify_all();
    }
    history.push_back(std::move(e));
    while (history.size() > options.history_limit) {
      min_valid_rv = history.front().rv;
      history.pop_front();
    }
    if (tk == kPodsKey || tk == kPdbsKey) recompute_pdbs(meta_string(object, "namespace"));
    if (event_type == "DELETED" && !orphan) collect_garbage(meta_string(object, "uid"));
    return object;
  }

  // Removes an object now (DELETED), with owner GC.
  json erase(const FakeResourceType& type, const std::string& key, bool orphan = false) {
    json* existing = find_object(type, key);
    if (existing == nullptr) return nullptr;
    json last = *existing;
    return commit(type, key, "DELETED", last, last, orphan);
  }

  std::set<std::string> live_uids() const {
    std::set<std::string> out;
    for (const auto& [tk, coll] : objects) {
      for (const auto& [key, obj] : coll) out.insert(meta_string(obj, "uid"));
    }
    return out;
  }

  // Background-style GC: deletes dependents of `uid` (transitively) once none of their
  // owners exist any more. Objects whose owners never existed are left alone.
  void collect_garbage(const std::string& uid) {
    if (uid.empty()) return;
    std::deque<std::string> gone{uid};
    while (!gone.empty()) {
      const std::string owner = gone.front();
      gone.pop_front();
      std::vector<std::pair<const FakeResourceType*, std::string>> doomed;
      const auto live = live_uids();
      for (const auto& [tk, coll] : objects) {
        for (const auto& [key, obj] : coll) {
          const json& m = meta(obj);
          if (!m.contains("ownerReferences") || !m["ownerReferences"].is_array()) continue;
          bool names_owner = false;
          bool other_alive = false;
          for (const auto& ref : m["ownerReferences"]) {
            const std::string ref_uid = ref.value("uid", "");
            if (ref_uid == owner) names_owner = true;
            else if (live.count(ref_uid)) other_alive = true;
          }
          if (names_owner && !other_alive) doomed.emplace_back(&types.at(tk), key);
        }
      }
      for (const auto& [type, key] : doomed) {
        json* obj = find_object(*type, key);
        if (obj == nullptr) continue;
        gone.push_back(meta_string(*obj, "uid"));
        json last = *obj;
        commit(*type, key, "DELETED", last, last, /*orphan=*/true);
      }
    }
  }

  std::vector<const json*> pods_matching(const std::string& ns, const LabelSelector& selector) {
    std::vector<const json*> out;
    auto coll = objects.find(std::string(kPodsKey));
    if (coll == objects.end()) return out;
    for (const auto& [key, pod] : coll->second) {
      if (meta_string(pod, "namespace") == ns && labels_match(selector, pod)) out.push_back(&pod);
    }
    return out;
  }

  // The disruption controller's status for one PDB (see the header for simplifications).
  json pdb_status(const json& pdb) {
    const std::string ns = meta_string(pdb, "namespace");
    const json spec = pdb.value("spec", json::object());
    const auto selector = selector_from_json(spec.value("selector", json()));
    std::vector<const json*> pods;
    if (selector) pods = pods_matching(ns, *selector);
    int expected = 0;
    int desired = 0;
    const int count = static_cast<int>(pods.size());
    if (spec.contains("maxUnavailable") && !spec["maxUnavailable"].is_null()) {
      expected = count;
      desired = std::max(0, expected - scaled_value(spec["maxUnavailable"], expected));
    } else if (spec.contains("minAvailable") && !spec["minAvailable"].is_null()) {
      expected = count;
      desired = scaled_value(spec["minAvailable"], expected);
    }
    int healthy = 0;
    for (const json* pod : pods) {
      if (!is_terminating(*pod) && pod_ready(*pod)) ++healthy;
    }
    int allowed = healthy - desired;
    if (expected <= 0 || allowed <= 0) allowed = 0;
    const int64_t generation = meta(pdb).value("generation", int64_t{1});
    json status = {{"observedGeneration", generation}, {"disruptionsAllowed", allowed},
                   {"currentHealthy", healthy},       {"desiredHealthy", desired},
                   {"expectedPods", expected}};
    json condition = {{"type", "DisruptionAllowed"},
                      {"status", allowed > 0 ? "True" : "False"},
                      {"reason", allowed > 0 ? "SufficientPods" : "InsufficientPods"},
                      {"message", ""},
                      {"observedGeneration", generation},
                      {"lastTransitionTime", rfc3339(std::chrono::system_clock::now())}};
    // Keep the transition time while the condition's status does not change.
    const json old_status = pdb.value("status", json::object());
    if (old_status.contains("conditions") && old_status["conditions"].is_array()) {
      for (const auto& c : old_status["conditions"]) {
        if (c.value("type", "") == "DisruptionAllowed" && c.value("status", "") == condition["status"] &&
            c.contains("lastTransitionTime")) {
          condition["lastTransitionTime"] = c["lastTransitionTime"];
        }
      }
    }
    status["conditions"] = json::array({condition});
    return status;
  }

  void recompute_pdbs(const std::string& ns) {
    if (in_pdb_recompute) return;
    in_pdb_recompute = true;
    const FakeResourceType& type = types.at(std::string(kPdbsKey));
    std::vector<std::string> keys;
    for (const auto& [key, pdb] : objects[std::string(kPdbsKey)]) {
      if (meta_string(pdb, "namespace") == ns) keys.push_back(key);
    }
    for (const auto& key : keys) {
      json* pdb = find_object(type, key);
      if (pdb == nullptr) continue;
      json status = pdb_status(*pdb);
      if (pdb->value("status", json()) == status) continue;
      json updated = *pdb;
      json old = *pdb;
      updated["status"] = std::move(status);
      commit(type, key, "MODIFIED", std::move(updated), std::move(old));
    }
    in_pdb_recompute = false;
  }

  // Fills server-set metadata on a new object.
  void prepare_create(const FakeResourceType& type, json& object) {
    object["apiVersion"] = group_version(type);
    object["kind"] = type.kind;
    json& m = object["metadata"];
    if (!m.contains("uid") || !m["uid"].is_string() || m["uid"].get<std::string>().empty()) m["uid"] = new_uid();
    if (!m.contains("creationTimestamp") || m["creationTimestamp"].is_null()) {
      m["creationTimestamp"] = rfc3339(std::chrono::system_clock::now());
    }
    if (!m.contains("generation")) m["generation"] = 1;
    if (type.resource == "namespaces" && type.group.empty()) {
      m["labels"]["kubernetes.io/metadata.name"] = m["name"];
    }
  }

  // Removes an object through the delete semantics (finalizers, pod grace).
  // Returns the object as the DELETE response shows it.
  json delete_object(const FakeResourceType& type, const std::string& key, std::optional<int64_t> grace_seconds,
                     bool orphan) {
    json existing = *find_object(type, key);
    const bool is_pod = type_key(type) == kPodsKey;
    const auto grace = options.pod_deletion_grace;
    const bool graceful = is_pod && grace.count() > 0 && !(grace_seconds && *grace_seconds == 0);
    if (has_finalizers(existing) || graceful) {
      if (is_terminating(existing)) return existing;
      json updated = existing;
      const auto wait = graceful ? grace : std::chrono::milliseconds(0);
      updated["metadata"]["deletionTimestamp"] = rfc3339(std::chrono::system_clock::now() + wait);
      updated["metadata"]["deletionGracePeriodSeconds"] =
          static_cast<int64_t>(std::chrono::ceil<std::chrono::seconds>(wait).count());
      json stored = commit(type, key, "MODIFIED", std::move(updated), existing);
      if (graceful && !has_finalizers(existing)) {
        pending.push_back({Clock::now() + wait, type_key(type), key, meta_string(existing, "uid")});
        timer_cv.notify_all();
      }
      return stored;
    }
    return commit(type, key, "DELETED", existing, existing, orphan);
  }

  void reap_pending() {
    const auto now = Clock::now();
    std::vector<PendingDeletion> due;
    std::erase_if(pending, [&](const PendingDeletion& p) {
      if (p.when > now) return false;
      due.push_back(p);
      return true;
    });
    for (const auto& p : due) {
      const auto& type = types.at(p.type_key);
      json* obj = find_object(type, p.key);
      if (obj != nullptr && meta_string(*obj, "uid") == p.uid) erase(type, p.key);
    }
  }

  // ---------------- HTTP verbs (mu held) ----------------

  static std::optional<json> parse_body(const Request& req) {
    if (trim(req.body).empty()) return json();
    try {
      return json::parse(req.body);
    } catch (const json::exception&) {
      return std::nullopt;
    }
  }

  static bool dry_run(const Request& req) { return req.param("dryRun") == "All"; }

  std::vector<json> select(const FakeResourceType& type, const std::string& ns, const LabelSelector& labels,
                           const std::vector<FieldRequirement>& fields) {
    std::vector<json> out;
    for (const auto& [key, obj] : objects[type_key(type)]) {
      if (!ns.empty() && meta_string(obj, "namespace") != ns) continue;
      if (labels_match(labels, obj) && fields_match(fields, obj)) out.push_back(obj);
    }
    return out;
  }

  Response list(const Request& req, const FakeResourceType& type, const std::string& ns) {
    const auto labels = parse_label_selector(req.param("labelSelector"));
    if (!labels) return error(400, "unable to parse requirement: invalid label selector");
    const auto fields = parse_field_selector(req.param("fieldSelector"));
    if (!fields) return error(400, "invalid field selector");
    const long limit = req.has("limit") ? std::atol(req.param("limit").c_str()) : 0;
    const std::string token = req.param("continue");

    uint64_t list_rv = rv;
    std::vector<json> items;
    size_t offset = 0;
    uint64_t snapshot_id = 0;
    if (!token.empty()) {
      json decoded;
      try {
        const auto plain = base64_decode(token);
        decoded = json::parse(plain.ok() ? *plain : std::string());
        snapshot_id = decoded.at("id").get<uint64_t>();
        offset = decoded.at("offset").get<size_t>();
        list_rv = decoded.at("rv").get<uint64_t>();
      } catch (const json::exception&) {
        return error(400, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
      }
      const auto it = snapshots.find(snapshot_id);
      if (it == snapshots.end() || list_rv < min_valid_rv) {
        return error(410,
                     "The provided continue parameter is too old to display a consistent list result. You can start "
                     "a new list without the continue parameter.");
      }
      items = it->second.items;
    } else {
      items = select(type, ns, *labels, *fields);
    }
    json out_items = json::array();
    const bool strip = is_builtin_group(type.group);
    size_t end = items.size();
    if (limit > 0 && offset + static_cast<size_t>(limit) < items.size()) end = offset + static_cast<size_t>(limit);
    for (size_t i = offset; i < end && i < items.size(); ++i) {
      json item = items[i];
      if (strip) {
        item.erase("kind");
        item.erase("apiVersion");
      }
      out_items.push_back(std::move(item));
    }
    json metadata = {{"resourceVersion", std::to_string(list_rv)}};
    if (end < items.size()) {
      if (snapshot_id == 0) {
        snapshot_id = next_snapshot++;
        snapshots[snapshot_id] = ListSnapshot{list_rv, items};
      }
      metadata["continue"] = base64_encode(dump(json{{"rv", list_rv}, {"id", snapshot_id}, {"offset", end}}));
      metadata["remainingItemCount"] = items.size() - end;
    } else if (snapshot_id != 0) {
      snapshots.erase(snapshot_id);
    }
    return ok(200, json{{"kind", type.kind + "List"},
                        {"apiVersion", group_version(type)},
                        {"metadata", metadata},
                        {"items", out_items}});
  }

  Response get(const FakeResourceType& type, const std::string& ns, const std::string& name) {
    json* obj = find_object(type, object_key(ns, name));
    if (obj == nullptr) return not_found(type, name);
    return ok(200, *obj);
  }

  static Response not_found(const FakeResourceType& type, const std::string& name) {
    return error(404, qualified(type) + " \"" + name + "\" not found", object_details(type, name));
  }
  static Response conflict(const FakeResourceType& type, const std::string& name) {
    return error(409,
                 "Operation cannot be fulfilled on " + qualified(type) + " \"" + name +
                     "\": the object has been modified; please apply your changes to the latest version and try again",
                 object_details(type, name));
  }

  // Checks name/namespace of a body against the URL and fills them in.
  static std::optional<Response> check_identity(const FakeResourceType& type, json& body, const std::string& ns,
                                                const std::string& name) {
    if (!body.is_object()) return error(400, "the body of the request must be a JSON object");
    if (body.contains("kind") && body["kind"].is_string() && body["kind"] != type.kind) {
      return error(400, type.kind + " in version \"" + type.version + "\" cannot be handled as a " + type.kind +
                            ": the kind of the body (" + body["kind"].get<std::string>() + ") does not match");
    }
    json& m = body["metadata"];
    if (!m.is_object()) m = json::object();
    if (type.namespaced) {
      if (m.contains("namespace") && m["namespace"].is_string() && !m["namespace"].get<std::string>().empty() &&
          m["namespace"] != ns) {
        return error(400, "the namespace of the provided object does not match the namespace sent on the request");
      }
      m["namespace"] = ns;
    } else {
      m.erase("namespace");
    }
    if (!name.empty()) {
      if (m.contains("name") && m["name"].is_string() && m["name"] != name) {
        return error(400, "the name of the object (" + m["name"].get<std::string>() +
                              ") does not match the name on the URL (" + name + ")");
      }
      m["name"] = name;
    }
    return std::nullopt;
  }

  Response create(const Request& req, const FakeResourceType& type, const std::string& ns) {
    auto body = parse_body(req);
    if (!body || body->is_null()) return error(400, "the request body is not valid JSON");
    if (auto bad = check_identity(type, *body, ns, "")) return *bad;
    json& m = (*body)["metadata"];
    std::string name = m.value("name", "");
    if (name.empty()) {
      const std::string prefix = m.value("generateName", "");
      if (prefix.empty()) {
        return error(422, type.kind + " \"\" is invalid: metadata.name: Required value: name or generateName is required",
                     json{{"kind", type.kind}, {"name", ""}});
      }
      do {
        name = prefix + random_suffix();
      } while (find_object(type, object_key(ns, name)) != nullptr);
      m["name"] = name;
    }
    if (find_object(type, object_key(ns, name)) != nullptr) {
      return error(409, qualified(type) + " \"" + name + "\" already exists", object_details(type, name),
                   "AlreadyExists");
    }
    if (m.contains("resourceVersion") && m["resourceVersion"].is_string() &&
        !m["resourceVersion"].get<std::string>().empty()) {
      return error(500, "resourceVersion should not be set on objects to be created");
    }
    for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                              "generation", "resourceVersion"}) {
      m.erase(field);
    }
    if (type.has_status) {
      body->erase("status");
      if (type_key(type) == kPodsKey) (*body)["status"] = {{"phase", "Pending"}};
      if (type.resource == "namespaces" && type.group.empty()) (*body)["status"] = {{"phase", "Active"}};
    }
    prepare_create(type, *body);
    if (dry_run(req)) return ok(201, *body);
    return ok(201, commit(type, object_key(ns, name), "ADDED", std::move(*body), nullptr));
  }

  // Shared tail of update and patch: server-owned fields, no-op detection, finalizers.
  Response finish_update(const Request& req, const FakeResourceType& type, const std::string& key,
                         const json& existing, json updated, const std::string& sub) {
    const std::string name = meta_string(existing, "name");
    const std::string want_rv = meta_string(updated, "resourceVersion");
    if (!want_rv.empty() && want_rv != meta_string(existing, "resourceVersion")) return conflict(type, name);
    const std::string want_uid = meta_string(updated, "uid");
    if (!want_uid.empty() && want_uid != meta_string(existing, "uid")) {
      return error(409, "Precondition failed: UID in precondition: " + want_uid +
                            ", UID in object meta: " + meta_string(existing, "uid"),
                   object_details(type, name));
    }
    if (sub == "status") {
      json only_status = existing;
      if (updated.contains("status")) only_status["status"] = updated["status"];
      else only_status.erase("status");
      updated = std::move(only_status);
    } else if (type.has_status) {
      if (existing.contains("status")) updated["status"] = existing["status"];
      else updated.erase("status");
    }
    json& m = updated["metadata"];
    m["uid"] = existing["metadata"]["uid"];
    m["creationTimestamp"] = existing["metadata"].value("creationTimestamp", json());
    m["name"] = existing["metadata"]["name"];
    if (type.namespaced) m["namespace"] = existing["metadata"]["namespace"];
    for (const char* field : {"deletionTimestamp", "deletionGracePeriodSeconds"}) {
      if (existing["metadata"].contains(field)) m[field] = existing["metadata"][field];
      else m.erase(field);
    }
    const int64_t generation = existing["metadata"].value("generation", int64_t{1});
    m["generation"] = spec_part(updated) == spec_part(existing) ? generation : generation + 1;
    m["resourceVersion"] = existing["metadata"]["resourceVersion"];
    updated["apiVersion"] = existing.value("apiVersion", group_version(type));
    updated["kind"] = existing.value("kind", type.kind);
    if (updated == existing) return ok(200, existing);  // a no-op write changes nothing, not even the RV
    if (dry_run(req)) return ok(200, updated);
    if (is_terminating(updated) && !has_finalizers(updated)) {
      return ok(200, commit(type, key, "DELETED", updated, existing));
    }
    return ok(200, commit(type, key, "MODIFIED", std::move(updated), existing));
  }

  Response update(const Request& req, const FakeResourceType& type, const std::string& ns, const std::string& name,
                  const std::string& sub) {
    auto body = parse_body(req);
    if (!body || body->is_null()) return error(400, "the request body is not valid JSON");
    if (auto bad = check_identity(type, *body, ns, name)) return *bad;
    const std::string key = object_key(ns, name);
    json* existing = find_object(type, key);
    if (existing == nullptr) return not_found(type, name);
    return finish_update(req, type, key, *existing, std::move(*body), sub);
  }

  Response patch(const Request& req, const FakeResourceType& type, const std::string& ns, const std::string& name,
                 const std::string& sub) {
    auto body = parse_body(req);
    if (!body || body->is_null()) return error(400, "the request body is not valid JSON");
    const std::string key = object_key(ns, name);
    const std::string ct = lower(req.content_type.substr(0, req.content_type.find(';')));
    json* existing = find_object(type, key);
    if (ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json") {
      if (req.param("fieldManager").empty()) {
        return error(400, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for "
                          "apply patch");
      }
      if (existing == nullptr) {
        Request create_req = req;
        json created = *body;
        if (auto bad = check_identity(type, created, ns, name)) return *bad;
        create_req.body = dump(created);
        return create(create_req, type, ns);
      }
    }
    if (existing == nullptr) return not_found(type, name);
    json patched = *existing;
    if (ct == "application/merge-patch+json" || ct == "application/strategic-merge-patch+json" ||
        ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json") {
      if (!body->is_object()) return error(400, "merge patch must be a JSON object");
      patched.merge_patch(*body);
    } else if (ct == "application/json-patch+json") {
      if (!body->is_array()) return error(400, "json patch must be a JSON array");
      try {
        patched = existing->patch(*body);
      } catch (const json::exception& e) {
        return error(422, std::string("the server rejected our request due to an error in our request: ") + e.what());
      }
    } else {
      return error(415, "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml, application/strategic-merge-patch+json");
    }
    if (!patched.is_object()) return error(422, "the patched object is not a JSON object");
    if (auto bad = check_identity(type, patched, ns, name)) return *bad;
    return finish_update(req, type, key, *existing, std::move(patched), sub);
  }

  Response remove(const Request& req, const FakeResourceType& type, const std::string& ns, const std::string& name) {
    const std::string key = object_key(ns, name);
    json* existing = find_object(type, key);
    if (existing == nullptr) return not_found(type, name);
    auto body = parse_body(req);
    json options = body && body->is_object() ? *body : json::object();
    if (options.contains("preconditions") && options["preconditions"].is_object()) {
      const json& pre = options["preconditions"];
      if (pre.contains("uid") && pre["uid"].is_string() && pre["uid"] != meta_string(*existing, "uid")) {
        return error(409, "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                              ", UID in object meta: " + meta_string(*existing, "uid"),
                     object_details(type, name));
      }
      if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() &&
          pre["resourceVersion"] != meta_string(*existing, "resourceVersion")) {
        return error(409, "Precondition failed: ResourceVersion in precondition: " +
                              pre["resourceVersion"].get<std::string>() +
                              ", ResourceVersion in object meta: " + meta_string(*existing, "resourceVersion"),
                     object_details(type, name));
      }
    }
    std::optional<int64_t> grace;
    if (options.contains("gracePeriodSeconds") && options["gracePeriodSeconds"].is_number_integer()) {
      grace = options["gracePeriodSeconds"].get<int64_t>();
    } else if (req.has("gracePeriodSeconds")) {
      grace = std::atoll(req.param("gracePeriodSeconds").c_str());
    }
    std::string propagation = options.value("propagationPolicy", req.param("propagationPolicy"));
    if (options.value("orphanDependents", false)) propagation = "Orphan";
    const bool is_dry = dry_run(req) ||
                        (options.contains("dryRun") && options["dryRun"].is_array() &&
                         std::find(options["dryRun"].begin(), options["dryRun"].end(), "All") != options["dryRun"].end());
    if (is_dry) return ok(200, *existing);
    return ok(200, delete_object(type, key, grace, propagation == "Orphan"));
  }

  Response delete_collection(const Request& req, const FakeResourceType& type, const std::string& ns) {
    const auto labels = parse_label_selector(req.param("labelSelector"));
    const auto fields = parse_field_selector(req.param("fieldSelector"));
    if (!labels || !fields) return error(400, "invalid selector");
    json items = json::array();
    for (const auto& obj : select(type, ns, *labels, *fields)) {
      const std::string key = object_key(meta_string(obj, "namespace"), meta_string(obj, "name"));
      if (find_object(type, key) == nullptr) continue;  // already collected
      items.push_back(dry_run(req) ? obj : delete_object(type, key, std::nullopt, false));
    }
    return ok(200, json{{"kind", type.kind + "List"},
                        {"apiVersion", group_version(type)},
                        {"metadata", {{"resourceVersion", std::to_string(rv)}}},
                        {"items", items}});
  }

  // POST pods/{name}/eviction: the registry's eviction logic (eviction.go), simplified.
  Response evict(const Request& req, const std::string& ns, const std::string& name) {
    const FakeResourceType& pod_type = types.at(std::string(kPodsKey));
    const std::string key = object_key(ns, name);
    auto body = parse_body(req);
    if (!body || !body->is_object()) return error(400, "the request body is not a valid Eviction object");
    const std::string body_name = meta_string(*body, "name");
    if (!body_name.empty() && body_name != name) {
      return error(400, "name in URL does not match name in Eviction object");
    }
    json* pod_ptr = find_object(pod_type, key);
    if (pod_ptr == nullptr) return not_found(pod_type, name);
    const json pod = *pod_ptr;
    json delete_options = body->value("deleteOptions", json::object());
    std::optional<int64_t> grace;
    if (delete_options.is_object() && delete_options.contains("gracePeriodSeconds") &&
        delete_options["gracePeriodSeconds"].is_number_integer()) {
      grace = delete_options["gracePeriodSeconds"].get<int64_t>();
    }
    const bool is_dry = dry_run(req) || (delete_options.is_object() && delete_options.contains("dryRun"));
    const json success = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                          {"status", "Success"}, {"code", 201}};
    auto do_delete = [&]() {
      if (!is_dry) delete_object(pod_type, key, grace, false);
      return ok(201, success);
    };
    if (is_terminating(pod)) return ok(201, success);
    const std::string phase = pod.contains("status") ? pod["status"].value("phase", "") : "";
    if (phase == "Succeeded" || phase == "Failed" || phase == "Pending") return do_delete();

    std::vector<std::string> pdb_keys;
    for (const auto& [pkey, pdb] : objects[std::string(kPdbsKey)]) {
      if (meta_string(pdb, "namespace") != ns) continue;
      const auto selector = selector_from_json(pdb.value("spec", json::object()).value("selector", json()));
      if (selector && labels_match(*selector, pod)) pdb_keys.push_back(pkey);
    }
    if (pdb_keys.empty()) return do_delete();
    if (pdb_keys.size() > 1) {
      return error(500, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
                        "support.");
    }
    const json pdb = objects[std::string(kPdbsKey)][pdb_keys[0]];
    const std::string pdb_name = meta_string(pdb, "name");
    const json spec = pdb.value("spec", json::object());
    const json status = pdb.value("status", json::object());
    const int healthy = status.value("currentHealthy", 0);
    const int desired = status.value("desiredHealthy", 0);
    if (!pod_ready(pod)) {
      if (spec.value("unhealthyPodEvictionPolicy", "") == "AlwaysAllow") return do_delete();
      if (healthy >= desired && desired > 0) return do_delete();
    }
    auto too_many = [&](const std::string& cause) {
      return error(429, "Cannot evict pod as it would violate the pod's disruption budget.",
                   json{{"causes", json::array({{{"reason", "DisruptionBudget"}, {"message", cause}}})}});
    };
    if (status.value("observedGeneration", int64_t{0}) < meta(pdb).value("generation", int64_t{1})) {
      return too_many("The disruption budget " + pdb_name + " is still being processed by the server.");
    }
    if (status.value("disruptionsAllowed", 0) <= 0) {
      return too_many("The disruption budget " + pdb_name + " needs " + std::to_string(desired) +
                      " healthy pods and has " + std::to_string(healthy) + " currently");
    }
    return do_delete();
  }

  // ---------------- routing ----------------

  json api_resource_list(const std::string& group, const std::string& version) const {
    json resources = json::array();
    const json verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
    for (const auto& [key, t] : types) {
      if (t.group != group || t.version != version) continue;
      resources.push_back({{"name", t.resource},
                           {"singularName", lower(t.kind)},
                           {"namespaced", t.namespaced},
                           {"kind", t.kind},
                           {"verbs", verbs}});
      if (t.has_status) {
        resources.push_back({{"name", t.resource + "/status"},
                             {"singularName", ""},
                             {"namespaced", t.namespaced},
                             {"kind", t.kind},
                             {"verbs", {"get", "patch", "update"}}});
      }
      if (type_key(t) == kPodsKey) {
        resources.push_back({{"name", "pods/eviction"},
                             {"singularName", ""},
                             {"namespaced", true},
                             {"group", "policy"},
                             {"version", "v1"},
                             {"kind", "Eviction"},
                             {"verbs", {"create"}}});
      }
    }
    if (resources.empty()) return nullptr;
    return {{"kind", "APIResourceList"},
            {"apiVersion", "v1"},
            {"groupVersion", group.empty() ? version : group + "/" + version},
            {"resources", resources}};
  }

  json api_group(const std::string& group) const {
    std::set<std::string> versions;
    for (const auto& [key, t] : types) {
      if (t.group == group) versions.insert(t.version);
    }
    if (versions.empty()) return nullptr;
    json list = json::array();
    for (const auto& v : versions) list.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
    return {{"name", group}, {"versions", list}, {"preferredVersion", list[0]}};
  }

  Dispatch dispatch(const Request& req) {
    auto done = [](Response r) { return Dispatch{std::move(r), std::nullopt}; };
    const auto not_served = [] { return error(404, "the server could not find the requested resource"); };
    const std::string& path = req.path;
    if (path == "/healthz" || path == "/readyz" || path == "/livez") {
      Response r;
      r.content_type = "text/plain";
      r.text = "ok";
      return done(r);
    }
    if (path == "/version") {
      return done(ok(200, {{"major", "1"}, {"minor", "29"}, {"gitVersion", "v1.29.0-fake"}, {"platform", "linux/amd64"}}));
    }
    auto seg = split_path(path);
    if (seg.empty()) return done(not_served());
    std::string group;
    size_t pos = 0;
    if (seg[0] == "api") {
      if (seg.size() == 1) {
        return done(ok(200, {{"kind", "APIVersions"}, {"versions", {"v1"}}, {"serverAddressByClientCIDRs", json::array()}}));
      }
      pos = 1;
    } else if (seg[0] == "apis") {
      if (seg.size() == 1) {
        json groups = json::array();
        std::set<std::string> names;
        for (const auto& [key, t] : types) {
          if (!t.group.empty() && !absent_groups.count(t.group)) names.insert(t.group);
        }
        for (const auto& g : names) groups.push_back(api_group(g));
        return done(ok(200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}}));
      }
      group = seg[1];
      if (absent_groups.count(group)) return done(not_served());
      if (seg.size() == 2) {
        json g = api_group(group);
        if (g.is_null()) return done(not_served());
        g["kind"] = "APIGroup";
        g["apiVersion"] = "v1";
        return done(ok(200, g));
      }
      pos = 2;
    } else {
      return done(not_served());
    }
    const std::string version = seg[pos];
    std::vector<std::string> rest(seg.begin() + static_cast<long>(pos) + 1, seg.end());
    if (rest.empty()) {
      if (req.method != "GET") return done(error(405, "the server does not allow this method on the requested resource"));
      json list = api_resource_list(group, version);
      if (list.is_null()) return done(not_served());
      return done(ok(200, list));
    }
    bool watch = req.param("watch") == "true" || req.param("watch") == "1";
    if (rest[0] == "watch") {
      watch = true;
      rest.erase(rest.begin());
    }
    std::string ns;
    if (rest.size() >= 3 && rest[0] == "namespaces" &&
        !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
      ns = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
    if (rest.empty() || rest.size() > 3) return done(not_served());
    const FakeResourceType* type = find_type(group, rest[0]);
    if (type == nullptr || type->version != version) return done(not_served());
    if (!type->namespaced && !ns.empty()) return done(not_served());
    const std::string name = rest.size() > 1 ? rest[1] : "";
    const std::string sub = rest.size() > 2 ? rest[2] : "";
    if (!sub.empty() && !(sub == "status" && type->has_status) &&
        !(sub == "eviction" && type_key(*type) == kPodsKey)) {
      return done(not_served());
    }
    const bool writes_need_ns = type->namespaced && ns.empty();
    const std::string& m = req.method;
    if (m == "GET") {
      if (watch) {
        if (!sub.empty()) return done(not_served());
        return Dispatch{std::nullopt, WatchSpec{*type, ns, name}};
      }
      if (sub == "eviction") return done(error(405, "the server does not allow this method on the requested resource"));
      if (name.empty()) return done(list(req, *type, ns));
      if (writes_need_ns) return done(not_served());
      return done(get(*type, ns, name));
    }
    if (writes_need_ns) return done(not_served());
    if (m == "POST") {
      if (sub == "eviction") return done(evict(req, ns, name));
      if (!name.empty()) return done(error(405, "the server does not allow this method on the requested resource"));
      return done(create(req, *type, ns));
    }
    if (name.empty() && m != "DELETE") {
      return done(error(405, "the server does not allow this method on the requested resource"));
    }
    if (sub == "eviction") return done(error(405, "the server does not allow this method on the requested resource"));
    if (m == "PUT") return done(update(req, *type, ns, name, sub));
    if (m == "PATCH") return done(patch(req, *type, ns, name, sub));
    if (m == "DELETE") {
      if (!sub.empty()) return done(error(405, "the server does not allow this method on the requested resource"));
      if (name.empty()) return done(delete_collection(req, *type, ns));
      return done(remove(req, *type, ns, name));
    }
    return done(error(405, "the server does not allow this method on the requested resource"));
  }

  // ---------------- connections ----------------

  // Returns true when the connection must end abruptly (a dropped watch).
  bool serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    bool abrupt = false;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      beast::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) break;
      auto raw = parser.release();
      Request req;
      req.method = std::string(raw.method_string());
      const std::string target(raw.target());
      const auto q = target.find('?');
      req.path = target.substr(0, q);
      req.raw_query = q == std::string::npos ? "" : target.substr(q + 1);
      req.query = parse_query(req.raw_query);
      req.content_type = std::string(raw[http::field::content_type]);
      req.body = std::move(raw.body());
      req.version = raw.version();
      req.keep_alive = raw.keep_alive();
      const bool is_watch = req.param("watch") == "true" || req.param("watch") == "1" ||
                            req.path.find("/watch/") != std::string::npos;

      std::chrono::milliseconds delay{0};
      std::optional<Response> injected;
      {
        std::lock_guard lock(mu);
        log.push_back({req.method, req.path, req.raw_query, req.content_type, req.body, is_watch});
        delay = latency;
        if (!required_token.empty() && std::string(raw[http::field::authorization]) != "Bearer " + required_token) {
          ++unauthorized;
          injected = error(401, "Unauthorized");
        }
        for (auto it = fail_rules.begin(); !injected && it != fail_rules.end(); ++it) {
          if ((it->method.empty() || it->method == "*" || it->method == req.method) &&
              req.path.rfind(it->prefix, 0) == 0 && !(it->lists_only && is_watch)) {
            injected = error(it->status, "injected failure (fake apiserver fail_next)");
            injected->retry_after = it->retry_after;
            if (--it->remaining <= 0) fail_rules.erase(it);
            break;
          }
        }
      }
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      if (stopping) break;

      Dispatch d;
      if (injected) {
        d.response = std::move(injected);
      } else {
        std::lock_guard lock(mu);
        try {
          d = dispatch(req);
        } catch (const std::exception& e) {
          d.response = error(500, std::string("fake apiserver internal error: ") + e.what());
        }
      }
      if (d.watch) {
        const auto outcome = serve_watch(socket, req, *d.watch);
        if (outcome != WatchEnd::kGraceful || !req.keep_alive) {
          abrupt = outcome == WatchEnd::kDropped;
          break;
        }
        continue;
      }
      const Response& r = *d.response;
      http::response<http::string_body> res{static_cast<http::status>(r.status), req.version};
      res.set(http::field::content_type, r.content_type);
      if (r.retry_after) res.set(http::field::retry_after, std::to_string(*r.retry_after));
      res.keep_alive(req.keep_alive);
      res.body() = r.body.is_null() ? r.text : dump(r.body);
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive) break;
    }
    return abrupt;
  }

  enum class WatchEnd { kGraceful, kDropped, kBroken };

  static bool peer_closed(int fd) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return true;
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

  WatchEnd serve_watch(tcp::socket& socket, const Request& req, const WatchSpec& spec) {
    auto w = std::make_shared<Watcher>();
    w->path = req.path;
    w->type_key = type_key(spec.type);
    w->ns = spec.ns;
    w->kind = spec.type.kind;
    w->api_version = group_version(spec.type);
    const auto labels = parse_label_selector(req.param("labelSelector"));
    auto fields = parse_field_selector(req.param("fieldSelector"));
    const bool bookmarks = req.param("allowWatchBookmarks") == "true" || req.param("allowWatchBookmarks") == "1";
    const std::string rv_param = req.param("resourceVersion");
    const long timeout_seconds = req.has("timeoutSeconds") ? std::atol(req.param("timeoutSeconds").c_str()) : 0;

    std::optional<Response> refuse;
    bool end_after_initial = false;
    {
      std::lock_guard lock(mu);
      uint64_t from = 0;
      bool parsed = true;
      if (!rv_param.empty() && rv_param != "0") {
        try {
          size_t used = 0;
          from = std::stoull(rv_param, &used);
          parsed = used == rv_param.size();
        } catch (const std::exception&) {
          parsed = false;
        }
      }
      if (!labels || !fields) {
        refuse = error(400, "invalid selector");
      } else if (!parsed) {
        refuse = error(400, "resourceVersion: Invalid value: \"" + rv_param + "\": must be an integer");
      } else {
        w->labels = *labels;
        w->fields = *fields;
        if (!spec.name.empty()) w->fields.push_back({{"metadata", "name"}, false, spec.name});
        if (from != 0 && from < min_valid_rv) {
          const std::string message = "too old resource version: " + std::to_string(from) + " (" +
                                      std::to_string(min_valid_rv) + ")";
          if (options.watch_expired_as_http_410) {
            refuse = error(410, message);
          } else {
            w->queue.push_back({{"type", "ERROR"}, {"object", status_body(410, "Expired", message)}});
            end_after_initial = true;
          }
        } else if (from == 0) {
          for (const auto& [key, obj] : objects[w->type_key]) {
            if (w->matches(obj)) w->queue.push_back({{"type", "ADDED"}, {"object", obj}});
          }
        } else {
          for (const auto& e : history) {
            if (e.rv <= from) continue;
            json ev = w->translate(e);
            if (!ev.is_null()) w->queue.push_back(std::move(ev));
          }
        }
        if (!end_after_initial) watchers.push_back(w);
      }
    }
    struct Unregister {
      Impl& impl;
      std::shared_ptr<Watcher> w;
      ~Unregister() {
        std::lock_guard lock(impl.mu);
        std::erase(impl.watchers, w);
      }
    } unregister{*this, w};

    beast::error_code ec;
    if (refuse) {
      http::response<http::string_body> res{static_cast<http::status>(refuse->status), req.version};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive);
      res.body() = dump(refuse->body);
      res.prepare_payload();
      http::write(socket, res, ec);
      return ec ? WatchEnd::kBroken : WatchEnd::kGraceful;
    }

    http::response<http::empty_body> res{http::status::ok, req.version};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive);
    res.chunked(true);
    http::response_serializer<http::empty_body> serializer{res};
    http::write_header(socket, serializer, ec);
    if (ec) return WatchEnd::kBroken;

    const auto start = Clock::now();
    const auto deadline = timeout_seconds > 0 ? start + std::chrono::seconds(timeout_seconds) : Clock::time_point::max();
    auto bookmark_interval = [this] {
      std::lock_guard lock(mu);
      return std::max(options.bookmark_interval, std::chrono::milliseconds(1));
    };
    auto next_bookmark = start + bookmark_interval();
    while (true) {
      std::deque<json> batch;
      bool dropped = false;
      bool cut = false;
      {
        std::unique_lock lock(w->mu);
        auto wake = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
        if (bookmarks) wake = std::min(wake, next_bookmark);
        w->cv.wait_until(lock, wake, [&] { return !w->queue.empty() || w->dropped || stopping; });
        batch.swap(w->queue);
        dropped = w->dropped;
        cut = w->cut_next_event && !batch.empty();
      }
      if (dropped || stopping) return WatchEnd::kDropped;
      for (const auto& ev : batch) {
        const std::string line = dump(ev) + "\n";
        if (cut) {
          asio::write(socket, http::make_chunk(asio::buffer(line.data(), line.size() / 2)), ec);
          return WatchEnd::kDropped;
        }
        asio::write(socket, http::make_chunk(asio::buffer(line)), ec);
        if (ec) return WatchEnd::kBroken;
      }
      const auto now = Clock::now();
      if (end_after_initial || now >= deadline) {
        asio::write(socket, http::make_chunk_last(), ec);
        return ec ? WatchEnd::kBroken : WatchEnd::kGraceful;
      }
      if (bookmarks && now >= next_bookmark) {
        {
          std::lock_guard store_lock(mu);
          std::lock_guard lock(w->mu);
          w->queue.push_back({{"type", "BOOKMARK"},
                              {"object",
                               {{"kind", w->kind},
                                {"apiVersion", w->api_version},
                                {"metadata", {{"resourceVersion", std::to_string(rv)}}}}}});
        }
        next_bookmark = now + bookmark_interval();
      }
      if (peer_closed(socket.native_handle())) return WatchEnd::kBroken;
    }
  }

  void timer_loop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      timer_cv.wait_for(lock, std::chrono::milliseconds(10));
      if (stopping) break;
      reap_pending();
    }
  }
};

FakeApiServer::FakeApiServer() : FakeApiServer(FakeApiServerOptions{}) {}
FakeApiServer::FakeApiServer(FakeApiServerOptions options) : impl_(std::make_unique<Impl>(options)) {}
FakeApiServer::~FakeApiServer() { stop(); }

void FakeApiServer::start() {
  Impl& s = *impl_;
  if (s.running) return;
  s.stopping = false;
  s.server.start();
  s.running = true;
  s.timer_thread = std::thread([&s] { s.timer_loop(); });
}

void FakeApiServer::stop() {
  Impl& s = *impl_;
  if (!s.running) return;
  s.stopping = true;
  {
    std::lock_guard lock(s.mu);
    s.timer_cv.notify_all();
    for (const auto& w : s.watchers) {
      std::lock_guard wl(w->mu);
      w->dropped = true;
      w->cv.notify_all();
    }
  }
  s.timer_thread.join();
  s.server.stop();
  s.running = false;
}

uint16_t FakeApiServer::port() const { return impl_->server.port(); }
std::string FakeApiServer::url() const { return "http://127.0.0.1:" + std::to_string(port()); }

json FakeApiServer::put(json object) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind = object.value("kind", "");
  if (kind.empty() || api_version.empty()) throw std::invalid_argument("put: object needs apiVersion and kind");
  const std::string ns = meta_string(object, "namespace");
  const std::string name = meta_string(object, "name");
  if (name.empty()) throw std::invalid_argument("put: object needs metadata.name");
  const FakeResourceType* type = s.resolve(api_version, kind);
  if (type == nullptr) {
    const auto slash = api_version.find('/');
    FakeResourceType t;
    t.group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    t.version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
    t.kind = kind;
    t.resource = lower(kind) + "s";
    t.namespaced = !ns.empty();
    s.types[type_key(t)] = t;
    type = &s.types[type_key(t)];
  }
  if (type->namespaced && ns.empty()) throw std::invalid_argument("put: namespaced kind needs metadata.namespace");
  const std::string key = object_key(type->namespaced ? ns : "", name);
  json* existing = s.find_object(*type, key);
  json old = existing != nullptr ? *existing : json();
  json& m = object["metadata"];
  if (!type->namespaced) m.erase("namespace");
  if (existing != nullptr) {
    for (const char* field : {"uid", "creationTimestamp"}) {
      if (!m.contains(field) && old["metadata"].contains(field)) m[field] = old["metadata"][field];
    }
    if (!m.contains("generation")) {
      const int64_t generation = old["metadata"].value("generation", int64_t{1});
      m["generation"] = spec_part(object) == spec_part(old) ? generation : generation + 1;
    }
  }
  s.prepare_create(*type, object);
  json stored = s.commit(*type, key, existing != nullptr ? "MODIFIED" : "ADDED", std::move(object), std::move(old));
  // Return the latest state: storing a PDB or pod may have updated it (PDB status).
  json* latest = s.find_object(*type, key);
  return latest != nullptr ? *latest : stored;
}

std::optional<json> FakeApiServer::get(std::string_view api_version, std::string_view kind_or_resource,
                                       std::string_view ns, std::string_view name) const {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const FakeResourceType* type = s.resolve(api_version, kind_or_resource);
  if (type == nullptr) return std::nullopt;
  json* obj = s.find_object(*type, object_key(type->namespaced ? ns : "", name));
  if (obj == nullptr) return std::nullopt;
  return *obj;
}

std::vector<json> FakeApiServer::list(std::string_view resource, std::string_view ns) const {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const FakeResourceType* type = s.resolve_any(resource);
  if (type == nullptr) return {};
  return s.select(*type, std::string(ns), {}, {});
}

std::optional<json> FakeApiServer::patch_merge(std::string_view api_version, std::string_view kind_or_resource,
                                               std::string_view ns, std::string_view name, const json& patch) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const FakeResourceType* type = s.resolve(api_version, kind_or_resource);
  if (type == nullptr) return std::nullopt;
  const std::string key = object_key(type->namespaced ? ns : "", name);
  json* existing = s.find_object(*type, key);
  if (existing == nullptr) return std::nullopt;
  json updated = *existing;
  updated.merge_patch(patch);
  json old = *existing;
  const int64_t generation = old["metadata"].value("generation", int64_t{1});
  updated["metadata"]["generation"] = spec_part(updated) == spec_part(old) ? generation : generation + 1;
  if (is_terminating(updated) && !has_finalizers(updated)) return s.commit(*type, key, "DELETED", updated, old);
  return s.commit(*type, key, "MODIFIED", std::move(updated), std::move(old));
}

bool FakeApiServer::remove(std::string_view api_version, std::string_view kind_or_resource, std::string_view ns,
                           std::string_view name) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  const FakeResourceType* type = s.resolve(api_version, kind_or_resource);
  if (type == nullptr) return false;
  return !s.erase(*type, object_key(type->namespaced ? ns : "", name)).is_null();
}

bool FakeApiServer::set_pod_ready(std::string_view ns, std::string_view name, bool ready) {
  auto pod = get("v1", "pods", ns, name);
  if (!pod) return false;
  json status = pod->value("status", json::object());
  json conditions = json::array();
  if (status.contains("conditions") && status["conditions"].is_array()) {
    for (const auto& c : status["conditions"]) {
      if (c.value("type", "") != "Ready") conditions.push_back(c);
    }
  }
  conditions.push_back({{"type", "Ready"},
                        {"status", ready ? "True" : "False"},
                        {"lastTransitionTime", rfc3339(std::chrono::system_clock::now())}});
  return patch_merge("v1", "pods", ns, name, {{"status", {{"conditions", conditions}}}}).has_value();
}

std::string FakeApiServer::resource_version() const {
  std::lock_guard lock(impl_->mu);
  return std::to_string(impl_->rv);
}

void FakeApiServer::register_resource(FakeResourceType type) {
  std::lock_guard lock(impl_->mu);
  impl_->types[type_key(type)] = std::move(type);
}

void FakeApiServer::fail_next(std::string method, std::string path_prefix, int status, int count,
                              std::optional<int> retry_after_seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->fail_rules.push_back({std::move(method), std::move(path_prefix), status, count, retry_after_seconds});
}

void FakeApiServer::clear_failures() {
  std::lock_guard lock(impl_->mu);
  impl_->fail_rules.clear();
}

void FakeApiServer::fail_next_list(std::string path_prefix, int status, int count) {
  std::lock_guard lock(impl_->mu);
  impl_->fail_rules.push_back({"GET", std::move(path_prefix), status, count, std::nullopt, true});
}

void FakeApiServer::cut_watches_mid_event() {
  std::lock_guard lock(impl_->mu);
  for (const auto& w : impl_->watchers) {
    std::lock_guard wl(w->mu);
    w->cut_next_event = true;
  }
}

void FakeApiServer::require_bearer_token(std::string token) {
  std::lock_guard lock(impl_->mu);
  impl_->required_token = std::move(token);
}

size_t FakeApiServer::unauthorized() const {
  std::lock_guard lock(impl_->mu);
  return impl_->unauthorized;
}

void FakeApiServer::set_latency(std::chrono::milliseconds latency) {
  std::lock_guard lock(impl_->mu);
  impl_->latency = latency;
}

void FakeApiServer::drop_watches() {
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& w : impl_->watchers) {
      std::lock_guard wl(w->mu);
      w->dropped = true;
      w->cv.notify_all();
    }
  }
  // Dropped watchers unregister themselves as their threads close the sockets.
  wait_for([this] {
    std::lock_guard lock(impl_->mu);
    return std::none_of(impl_->watchers.begin(), impl_->watchers.end(), [](const auto& w) {
      std::lock_guard wl(w->mu);
      return w->dropped;
    });
  }, std::chrono::seconds(5));
}

void FakeApiServer::compact() {
  std::lock_guard lock(impl_->mu);
  impl_->history.clear();
  impl_->min_valid_rv = impl_->rv;
  impl_->snapshots.clear();
}

void FakeApiServer::set_group_absent(std::string group, bool absent) {
  std::lock_guard lock(impl_->mu);
  if (absent) impl_->absent_groups.insert(std::move(group));
  else impl_->absent_groups.erase(group);
}

void FakeApiServer::set_watch_expired_as_http_410(bool enabled) {
  std::lock_guard lock(impl_->mu);
  impl_->options.watch_expired_as_http_410 = enabled;
}

void FakeApiServer::set_bookmark_interval(std::chrono::milliseconds interval) {
  std::lock_guard lock(impl_->mu);
  impl_->options.bookmark_interval = interval;
}

void FakeApiServer::set_pod_deletion_grace(std::chrono::milliseconds grace) {
  std::lock_guard lock(impl_->mu);
  impl_->options.pod_deletion_grace = grace;
}

std::vector<FakeApiRequest> FakeApiServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->log;
}

void FakeApiServer::clear_requests() {
  std::lock_guard lock(impl_->mu);
  impl_->log.clear();
}

size_t FakeApiServer::count_requests(std::string_view method, std::string_view path_prefix) const {
  std::lock_guard lock(impl_->mu);
  return static_cast<size_t>(std::count_if(impl_->log.begin(), impl_->log.end(), [&](const FakeApiRequest& r) {
    return (method.empty() || r.method == method) && r.path.rfind(path_prefix, 0) == 0;
  }));
}

size_t FakeApiServer::open_watches(std::string_view path_prefix) const {
  std::lock_guard lock(impl_->mu);
  return static_cast<size_t>(std::count_if(impl_->watchers.begin(), impl_->watchers.end(), [&](const auto& w) {
    return w->path.rfind(path_prefix, 0) == 0;
  }));
}

bool FakeApiServer::wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (predicate()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool FakeApiServer::wait_for_watches(size_t n, std::chrono::milliseconds timeout, std::string_view path_prefix) const {
  return wait_for([&] { return open_watches(path_prefix) >= n; }, timeout);
}

// ---- builders ----

namespace {
json labels_json(const std::map<std::string, std::string>& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}
}  // namespace

json make_pod(std::string_view ns, std::string_view name, const std::map<std::string, std::string>& labels,
              std::string_view node_name, bool ready) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels_json(labels)}}},
              {"spec",
               {{"containers",
                 json::array({{{"name", "main"},
                               {"image", "busybox"},
                               {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}}})}}}};
  if (node_name.empty()) {
    pod["status"] = {{"phase", "Pending"}};
  } else {
    pod["spec"]["nodeName"] = node_name;
    pod["status"] = {{"phase", "Running"},
                     {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}};
  }
  return pod;
}

json make_pdb(std::string_view ns, std::string_view name, const std::map<std::string, std::string>& match_labels,
              const json& min_available, const json& max_unavailable) {
  json pdb = {{"apiVersion", "policy/v1"},
              {"kind", "PodDisruptionBudget"},
              {"metadata", {{"namespace", ns}, {"name", name}}},
              {"spec", {{"selector", {{"matchLabels", labels_json(match_labels)}}}}}};
  if (!min_available.is_null()) pdb["spec"]["minAvailable"] = min_available;
  if (!max_unavailable.is_null()) pdb["spec"]["maxUnavailable"] = max_unavailable;
  return pdb;
}

json make_node(std::string_view name, const std::map<std::string, std::string>& labels, std::string_view cpu,
               std::string_view memory) {
  json allocatable = {{"cpu", cpu}, {"memory", memory}, {"pods", "110"}};
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", labels_json(labels)}}},
          {"spec", json::object()},
          {"status",
           {{"capacity", allocatable},
            {"allocatable", allocatable},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

}  // namespace ballast::testing
