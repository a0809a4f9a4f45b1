#include "app/probe_command.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/signals.h"
#include "core/duration.h"
#include "core/file.h"
#include "core/thread_name.h"
#include "core/yaml_document.h"
#include "scaler/client/keda_client.h"
#include "scaler/scaled_object_file.h"

namespace ballast::app {
namespace {

constexpr const char* kUsage =
    "usage: ballast probe [--scaler HOST:PORT] (--metadata KEY=VALUE ... | -f FILE [--trigger N]) [flags]\n"
    "  --scaler HOST:PORT       the scaler's gRPC address (default: the trigger's scalerAddress)\n"
    "  --metadata KEY=VALUE     one trigger metadata key (repeat; added to, and winning over, -f)\n"
    "  -f, --file FILE          a ScaledObject YAML file (several documents allowed; - is stdin)\n"
    "  --scaled-object NAME     which ScaledObject of FILE (needed when it holds several)\n"
    "  --trigger N              which trigger of it, as its index in spec.triggers (default: the\n"
    "                           first external or external-push one)\n"
    "  --name NAME, --namespace NS   the ScaledObjectRef sent (default: the file's, else probe/default)\n"
    "  --tls-ca-file FILE       speak TLS, verifying the scaler against this CA (KEDA's caCert)\n"
    "  --tls-cert-file FILE, --tls-key-file FILE   client certificate for mTLS (tlsClientCert/Key)\n"
    "  --tls-server-name NAME   the name the scaler's certificate is checked against\n"
    "  --watch                  then hold StreamIsActive open and print each activation edge\n"
    "                           until Ctrl-C (as KEDA does for external-push)\n"
    "  --timeout DURATION       each call's deadline, as 3s or 500ms (default 3s, KEDA's)\n"
    "  --output text|json       (default text)\n"
    "exit codes: 0 every call OK, 1 the scaler answered an error, 2 bad input, 3 scaler unreachable\n";

struct ProbeFlags {
  scaler::ScalerEndpoint endpoint;
  scaler::Metadata metadata;
  std::string file;
  std::string scaled_object;
  std::optional<int> trigger;
  std::string name;
  std::string namespace_name;
  std::chrono::milliseconds timeout = scaler::kKedaCallDeadline;
  bool watch = false;
  bool json = false;
};

Result<int> trigger_index(const std::string& text) {
  try {
    size_t used = 0;
    const int index = std::stoi(text, &used);
    if (used == text.size() && index >= 0) return index;
  } catch (const std::exception&) {
  }
  return invalid_argument("--trigger: must be an index into spec.triggers (0, 1, ...), not \"" + text + "\"");
}

Result<ProbeFlags> parse_probe_flags(const std::vector<std::string>& args) {
  ProbeFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "--watch") {
      flags.watch = true;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    static const std::set<std::string> kValued = {
        "--metadata", "--scaler", "-f", "--file", "--scaled-object", "--trigger", "--name", "--namespace",
        "--tls-ca-file", "--tls-cert-file", "--tls-key-file", "--tls-server-name", "--timeout", "--output"};
    if (!kValued.count(name)) return invalid_argument("unknown flag \"" + args[i] + "\"");
    if (!has_value) {
      if (i + 1 >= args.size()) return invalid_argument(name + " needs a value");
      value = args[++i];
    }
    if (name == "--metadata") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        return invalid_argument("--metadata: expected KEY=VALUE, got \"" + value + "\"");
      }
      flags.metadata[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (name == "--scaler") {
      flags.endpoint.address = value;
    } else if (name == "-f" || name == "--file") {
      flags.file = value;
    } else if (name == "--scaled-object") {
      flags.scaled_object = value;
    } else if (name == "--trigger") {
      auto index = trigger_index(value);
      if (!index) return index.error();
      flags.trigger = *index;
    } else if (name == "--name") {
      flags.name = value;
    } else if (name == "--namespace") {
      flags.namespace_name = value;
    } else if (name == "--tls-ca-file") {
      flags.endpoint.ca_file = value;
    } else if (name == "--tls-cert-file") {
      flags.endpoint.cert_file = value;
    } else if (name == "--tls-key-file") {
      flags.endpoint.key_file = value;
    } else if (name == "--tls-server-name") {
      flags.endpoint.server_name = value;
    } else if (name == "--timeout") {
      const auto timeout = parse_duration(value);
      if (!timeout || timeout->count() <= 0) {
        return invalid_argument("--timeout must be a positive duration (3s, 500ms), not \"" + value + "\"");
      }
      flags.timeout = *timeout;
    } else {  // --output
      if (value != "text" && value != "json") return invalid_argument("--output must be text or json, not \"" + value + "\"");
      flags.json = value == "json";
    }
  }
  if (flags.file.empty() && flags.metadata.empty()) {
    return invalid_argument("give the trigger: --metadata KEY=VALUE ... or -f SCALEDOBJECT.yaml");
  }
  if (flags.file.empty() && (flags.trigger || !flags.scaled_object.empty())) {
    return invalid_argument("--trigger and --scaled-object pick from -f FILE, and no file was given");
  }
  return flags;
}

Result<std::string> read_input(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  return read_regular_file(path, kMaxYamlFileBytes);
}

// The trigger of the file that flags pick, with the flags' metadata, name and namespace
// laid over it.
Result<scaler::ScaledObjectTrigger> chosen_trigger(const ProbeFlags& flags) {
  scaler::ScaledObjectTrigger chosen{"default", "probe", 0, "external", {}, 0, 100};
  if (!flags.file.empty()) {
    auto text = read_input(flags.file);
    if (!text) return Error{text.error().code, flags.file + ": " + text.error().message};
    auto triggers = scaler::read_scaled_object_triggers(*text);
    if (!triggers) return Error{triggers.error().code, flags.file + ": " + triggers.error().message};
    std::vector<scaler::ScaledObjectTrigger> candidates;
    std::string objects;
    for (auto& trigger : *triggers) {
      const std::string object = trigger.namespace_name + "/" + trigger.name;
      if (objects.find(object) == std::string::npos) objects += (objects.empty() ? "" : ", ") + object;
      if (!flags.scaled_object.empty() && trigger.name != flags.scaled_object && object != flags.scaled_object) continue;
      if (flags.trigger && trigger.index != *flags.trigger) continue;
      candidates.push_back(std::move(trigger));
    }
    if (candidates.empty()) {
      return invalid_argument(flags.file + ": no external or external-push trigger" +
                              (flags.scaled_object.empty() ? "" : " in ScaledObject " + flags.scaled_object) +
                              (flags.trigger ? " at spec.triggers[" + std::to_string(*flags.trigger) + "]" : "") +
                              (objects.empty() ? "" : " (ScaledObjects with one: " + objects + ")"));
    }
    if (candidates.front().name != candidates.back().name ||
        candidates.front().namespace_name != candidates.back().namespace_name) {
      return invalid_argument(flags.file + " holds several ScaledObjects (" + objects +
                              "): pick one with --scaled-object NAME");
    }
    chosen = std::move(candidates.front());
  }
  for (const auto& [key, value] : flags.metadata) chosen.metadata[key] = value;
  if (!flags.name.empty()) chosen.name = flags.name;
  if (!flags.namespace_name.empty()) chosen.namespace_name = flags.namespace_name;
  return chosen;
}

nlohmann::json status_json(const grpc::Status& status) {
  return {{"code", scaler::status_code_name(status.error_code())}, {"message", status.error_message()}};
}

// The poll as the e2e suite reads it: each call's status, and its answer when it had one.
nlohmann::json poll_json(const scaler::KedaPoll& poll) {
  nlohmann::json out;
  out["spec"] = status_json(poll.spec_status);
  if (!poll.spec_status.ok()) return out;
  out["spec"]["metricName"] = poll.metric_name;
  out["spec"]["target"] = poll.target;
  out["metrics"] = status_json(poll.metrics_status);
  if (poll.metrics_status.ok()) out["metrics"]["value"] = poll.value;
  out["active"] = status_json(poll.active_status);
  if (poll.active_status.ok()) out["active"]["result"] = poll.active;
  return out;
}

std::string failure_text(const grpc::Status& status) {
  return scaler::status_code_name(status.error_code()) + ": " + status.error_message();
}

void print_spec_text(const scaler::KedaPoll& poll) {
  if (!poll.spec_status.ok()) {
    std::cout << "metric spec  " << failure_text(poll.spec_status) << "\n";
  } else {
    std::cout << "metric spec  " << poll.metric_name << ", target " << poll.target << " per replica\n";
  }
}

void print_poll_text(const scaler::KedaPoll& poll) {
  print_spec_text(poll);
  if (!poll.spec_status.ok()) return;
  if (poll.metrics_status.ok()) {
    std::cout << "value        " << poll.value << "\n";
  } else {
    std::cout << "value        " << failure_text(poll.metrics_status) << "\n";
  }
  if (poll.active_status.ok()) {
    std::cout << "active       " << (poll.active ? "yes" : "no") << "\n";
  } else {
    std::cout << "active       " << failure_text(poll.active_status) << "\n";
  }
}

// Whether a failed call never reached a scaler: gRPC says UNAVAILABLE for a refused
// connection or a failed TLS handshake too, but then the channel itself has failed.
bool unreachable(const grpc::Status& status, grpc::Channel& channel) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         channel.GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE;
}

int exit_code(const scaler::KedaPoll& poll, grpc::Channel& channel) {
  for (const auto* status : {&poll.spec_status, &poll.metrics_status, &poll.active_status}) {
    if (unreachable(*status, channel)) return kProbeUnreachable;
  }
  const bool ok = poll.spec_status.ok() && poll.metrics_status.ok() && poll.active_status.ok();
  return ok ? kProbeOk : kProbeScalerError;
}

void explain_unreachable(const ProbeFlags& flags) {
  std::cerr << "ballast probe: cannot reach a scaler at " << flags.endpoint.address << " ("
            << (flags.endpoint.ca_file.empty() ? "plaintext; add --tls-ca-file if it serves TLS"
                                               : "TLS; check --tls-ca-file, the client certificate and the name")
            << ")\n";
}

std::string clock_text() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::snprintf(text, sizeof(text), "%02d:%02d:%02d.%03lld", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<long long>(millis));
  return text;
}

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// StreamIsActive until the scaler ends it or a termination signal arrives (which cancels
// the call from a second thread; the main thread holds the stream).
int watch(const ProbeFlags& flags, externalscaler::ExternalScaler::Stub& stub, grpc::Channel& channel,
          const externalscaler::ScaledObjectRef& ref) {
  // The spec first: it names a wrong key at once, before a stream that would only end.
  const auto spec = scaler::keda_metric_spec(stub, ref, flags.timeout);
  if (flags.json) {
    std::cout << nlohmann::json{{"spec", poll_json(spec)["spec"]}}.dump() << std::endl;
  } else {
    print_spec_text(spec);
  }
  if (!spec.spec_status.ok()) {
    const int code = exit_code(spec, channel);
    if (code == kProbeUnreachable) explain_unreachable(flags);
    return code;
  }
  grpc::ClientContext context;
  std::atomic<bool> signalled{false};
  std::atomic<bool> finished{false};
  std::thread canceller([&] {
    name_this_thread("probe-cancel");
    while (!finished.load()) {
      if (wait_for_termination_signal(std::chrono::milliseconds(100))) {
        signalled = true;
        context.TryCancel();
        return;
      }
    }
  });
  if (!flags.json) std::cout << "watching StreamIsActive (Ctrl-C stops)\n" << std::flush;
  const auto end = scaler::stream_is_active(stub, context, ref, [&](bool active) {
    if (flags.json) {
      std::cout << nlohmann::json{{"result", active}, {"at", epoch_seconds()}}.dump() << std::endl;
    } else {
      std::cout << clock_text() << "  " << (active ? "active" : "inactive") << std::endl;
    }
  });
  finished = true;
  canceller.join();
  if (flags.json) std::cout << nlohmann::json{{"end", status_json(end)}}.dump() << std::endl;
  if (signalled || end.ok()) {
    if (!flags.json) std::cout << "stream ended: " << (signalled ? "stopped" : "closed by the scaler (OK)") << "\n";
    return kProbeOk;
  }
  if (unreachable(end, channel)) {
    explain_unreachable(flags);
    return kProbeUnreachable;
  }
  if (!flags.json) std::cout << "stream ended: " << failure_text(end) << "\n";
  return kProbeScalerError;
}

}  // namespace

const char* probe_usage() { return kUsage; }

int run_probe(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return kProbeOk;
  }
  auto flags = parse_probe_flags(args);
  if (!flags) {
    std::cerr << "ballast probe: " << flags.error().message << "\n" << kUsage;
    return kProbeBadInput;
  }
  auto trigger = chosen_trigger(*flags);
  if (!trigger) {
    std::cerr << "ballast probe: " << trigger.error().message << "\n";
    return kProbeBadInput;
  }
  if (flags->endpoint.address.empty()) {
    const auto address = trigger->metadata.find("scalerAddress");
    if (address == trigger->metadata.end()) {
      std::cerr << "ballast probe: --scaler HOST:PORT is required (the trigger names no scalerAddress)\n";
      return kProbeBadInput;
    }
    flags->endpoint.address = address->second;
  }
  // Taken synchronously (by --watch's canceller); blocked before gRPC starts any thread,
  // which would otherwise take them and die. A plain probe ends within its deadlines.
  block_termination_signals();
  auto channel = scaler::scaler_channel(flags->endpoint);
  if (!channel) {
    std::cerr << "ballast probe: " << channel.error().message << "\n";
    return kProbeBadInput;
  }
  auto stub = externalscaler::ExternalScaler::NewStub(*channel);
  const auto ref = scaler::scaled_object_ref(trigger->namespace_name, trigger->name, trigger->metadata);
  if (!flags->json) {
    std::cout << "trigger      " << trigger->namespace_name << "/" << trigger->name << " (" << trigger->type << ")\n"
              << "scaler       " << flags->endpoint.address << (flags->endpoint.ca_file.empty() ? " (plaintext)" : " (TLS)")
              << "\n";
  }
  if (flags->watch) return watch(*flags, *stub, **channel, ref);
  const auto poll = scaler::keda_poll(*stub, ref, flags->timeout);
  if (flags->json) {
    std::cout << poll_json(poll).dump() << "\n";
  } else {
    print_poll_text(poll);
  }
  const int code = exit_code(poll, **channel);
  if (code == kProbeUnreachable) explain_unreachable(*flags);
  return code;
}

}  // namespace ballast::app
