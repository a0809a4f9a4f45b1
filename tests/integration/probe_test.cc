// `ballast probe` against a real `ballast serve` scaler on loopback: what it prints, its
// exit codes, --watch's activation edges, a ScaledObject file, and TLS/mTLS.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "demo/support/session_publisher.h"
#include "fakes/serve_process.h"
#include "fakes/shell.h"
#include "fakes/test_certs.h"

using namespace std::chrono_literals;
using ballast::testing::becomes_ready;
using ballast::testing::ChildProcess;
using ballast::testing::file_shows;
using ballast::testing::free_port;
using ballast::testing::TempDir;

namespace {

constexpr const char* kInterviews =
    "--metadata source=sessions --metadata counter=active_interviews --metadata threshold=2";

// `ballast serve` with the scaler and session counters on free loopback ports.
struct Scaler {
  explicit Scaler(const std::string& extra_config = "") {
    const auto tokens = dir.write("tokens", "probe-token\n");
    const auto config = dir.write("ballast.yaml", "grpc-address: 127.0.0.1:" + std::to_string(grpc_port) +
                                                      "\nsessions-address: 127.0.0.1:" + std::to_string(sessions_port) +
                                                      "\nadmin-address: 127.0.0.1:" + std::to_string(admin_port) +
                                                      "\nsessions-token-file: " + tokens + "\nlog-level: warn\n" +
                                                      extra_config);
    process.start(BALLAST_BINARY, {"serve", "--config", config, "--components", "scaler,sessions"});
    ready = becomes_ready(admin_port);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port); }
  void publish(int interviews) {
    if (!publisher) {
      auto connected = ballast::sessions::SessionPublisher::connect("127.0.0.1", sessions_port, "probe-token");
      REQUIRE(connected.ok());
      publisher = std::move(*connected);
    }
    REQUIRE(publisher->send(R"({"counter":"active_interviews","value":)" + std::to_string(interviews) + "}").ok());
  }

  TempDir dir;
  uint16_t grpc_port = free_port(), sessions_port = free_port(), admin_port = free_port();
  ChildProcess process;
  bool ready = false;
  std::unique_ptr<ballast::sessions::SessionPublisher> publisher;
};

// Each call's deadline: KEDA's 3 s (the default) natively, stretched where the children run
// slower (bench/memcheck.sh runs them under valgrind). A --timeout in a test's own flags wins.
std::string timeout_flags() {
  const int slowdown = ballast::testing::child_slowdown();
  return slowdown > 1 ? "--timeout " + std::to_string(3 * slowdown) + "s " : "";
}

ballast::testing::CommandOutput probe(const std::string& args) {
  return ballast::testing::run_command(std::string(BALLAST_BINARY) + " probe " + timeout_flags() + args + " 2>&1");
}

// Probes until the scaler has the published value (publishing is asynchronous to polls).
ballast::testing::CommandOutput probe_until(const std::string& args, const std::string& expected) {
  auto out = probe(args);
  for (int i = 0; i < 100 && out.text.find(expected) == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    out = probe(args);
  }
  return out;
}

}  // namespace

TEST_CASE("probe prints the metric spec, the value and activity, and exits 0", "[probe]") {
  Scaler scaler;
  REQUIRE(scaler.ready);
  scaler.publish(5);
  const auto out = probe_until("--scaler " + scaler.address() + " " + kInterviews, "value        5");
  CHECK(out.exit_code == 0);
  CHECK(out.text.find("metric spec  sessions-active-interviews") != std::string::npos);
  CHECK(out.text.find("target 2 per replica") != std::string::npos);
  CHECK(out.text.find("active       yes") != std::string::npos);

  const auto json = probe("--output json --namespace e2e --name rooms --scaler " + scaler.address() + " " + kInterviews);
  CHECK(json.exit_code == 0);
  const auto parsed = nlohmann::json::parse(json.text);
  CHECK(parsed["spec"]["code"] == "OK");
  CHECK(parsed["spec"]["target"] == 2.0);
  CHECK(parsed["metrics"]["value"] == 5.0);
  CHECK(parsed["active"]["result"] == true);
}

TEST_CASE("probe shows the scaler's INVALID_ARGUMENT naming the key and exits 1", "[probe]") {
  Scaler scaler;
  REQUIRE(scaler.ready);
  const auto out = probe("--scaler " + scaler.address() +
                         " --metadata source=sessions --metadata counter=rooms --metadata threshold=lots");
  CHECK(out.exit_code == 1);
  CHECK(out.text.find("metric spec  INVALID_ARGUMENT: ") != std::string::npos);
  CHECK(out.text.find("threshold") != std::string::npos);
}

TEST_CASE("probe exits 3 and says so when no scaler listens, 2 on bad input", "[probe]") {
  const auto nobody = probe("--scaler 127.0.0.1:" + std::to_string(free_port()) + " " + kInterviews);
  CHECK(nobody.exit_code == 3);
  CHECK(nobody.text.find("cannot reach a scaler at 127.0.0.1:") != std::string::npos);

  CHECK(probe("--scaler 127.0.0.1:1").exit_code == 2);  // no trigger
  const auto unknown = probe("--scaler 127.0.0.1:1 --metdata source=sessions");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.text.find("unknown flag \"--metdata\"") != std::string::npos);
  const auto no_pair = probe("--scaler 127.0.0.1:1 --metadata source");
  CHECK(no_pair.exit_code == 2);
  CHECK(no_pair.text.find("--metadata: expected KEY=VALUE") != std::string::npos);
  const auto no_address = probe(kInterviews);
  CHECK(no_address.exit_code == 2);
  CHECK(no_address.text.find("--scaler HOST:PORT is required") != std::string::npos);
  const auto half_mtls = probe("--scaler 127.0.0.1:1 --tls-cert-file /dev/null " + std::string(kInterviews));
  CHECK(half_mtls.exit_code == 2);
  CHECK(half_mtls.text.find("tls-cert-file and tls-key-file") != std::string::npos);
}

TEST_CASE("probe --timeout takes a positive duration and names the flag otherwise", "[probe]") {
  for (const char* bad : {"0s", "0", "-1s", "soon", "1us", ""}) {
    INFO(bad);
    const auto out = probe("--scaler 127.0.0.1:1 --timeout '" + std::string(bad) + "' " + kInterviews);
    CHECK(out.exit_code == 2);
    CHECK(out.text.find("--timeout must be a positive duration (3s, 500ms), not \"" + std::string(bad) + "\"") !=
          std::string::npos);
  }
  const auto missing = probe(std::string(kInterviews) + " --scaler 127.0.0.1:1 --timeout");
  CHECK(missing.exit_code == 2);
  CHECK(missing.text.find("--timeout needs a value") != std::string::npos);
}

TEST_CASE("probe against a scaler that stalls ends with DEADLINE_EXCEEDED after --timeout", "[probe]") {
  Scaler scaler;
  REQUIRE(scaler.ready);
  // A stopped process: the kernel still accepts the connection, nothing answers on it.
  REQUIRE(scaler.process.signal(SIGSTOP));
  const auto started = std::chrono::steady_clock::now();
  const auto out = probe("--timeout 300ms --scaler " + scaler.address() + " " + kInterviews);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(scaler.process.signal(SIGCONT));
  INFO(out.text);
  CHECK(out.exit_code == 1);
  CHECK(out.text.find("metric spec  DEADLINE_EXCEEDED") != std::string::npos);
  CHECK(took < 3s * ballast::testing::child_slowdown());  // the flag's deadline, not KEDA's 3 s
}

TEST_CASE("probe reads a trigger from a ScaledObject file, the scaler address included", "[probe]") {
  Scaler scaler;
  REQUIRE(scaler.ready);
  const auto file = scaler.dir.write("scaledobjects.yaml",
                                     "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\n"
                                     "metadata: {name: rooms, namespace: assessment}\n"
                                     "spec:\n  scaleTargetRef: {name: rooms}\n  triggers:\n"
                                     "    - type: cpu\n      metadata: {value: \"60\"}\n"
                                     "    - type: external\n      metadata:\n        scalerAddress: " +
                                         scaler.address() +
                                         "\n        source: sessions\n        counter: active_interviews\n"
                                         "        threshold: \"4\"\n---\n"
                                         "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\n"
                                         "metadata: {name: other}\nspec:\n  triggers:\n"
                                         "    - type: external-push\n      metadata: {source: sessions}\n");
  const auto several = probe("-f " + file);
  CHECK(several.exit_code == 2);
  CHECK(several.text.find("assessment/rooms, default/other") != std::string::npos);
  const auto wrong_index = probe("-f " + file + " --scaled-object rooms --trigger 0");
  CHECK(wrong_index.exit_code == 2);
  CHECK(wrong_index.text.find("no external or external-push trigger in ScaledObject rooms at spec.triggers[0]") !=
        std::string::npos);

  const auto out = probe("-f " + file + " --scaled-object rooms --trigger 1");
  CHECK(out.exit_code == 0);
  CHECK(out.text.find("trigger      assessment/rooms (external)") != std::string::npos);
  CHECK(out.text.find("target 4 per replica") != std::string::npos);
  const auto overridden = probe("-f " + file + " --scaled-object rooms --metadata threshold=8");
  CHECK(overridden.text.find("target 8 per replica") != std::string::npos);
}

TEST_CASE("probe --watch prints each activation edge and exits 0 on SIGINT", "[probe]") {
  Scaler scaler;
  REQUIRE(scaler.ready);
  const auto output = scaler.dir.path + "/watch.out";
  ChildProcess watcher("/bin/sh", {"-c", "exec " + std::string(BALLAST_BINARY) + " probe --watch " + timeout_flags() +
                                             "--scaler " + scaler.address() + " " + kInterviews + " > " + output +
                                             " 2>&1"});
  REQUIRE(file_shows(output, "  inactive\n", 10s));
  // The thread that waits for Ctrl-C says what it is in top -H.
  CHECK(ballast::testing::threads_become(
      watcher.pid(), [](const auto& names) { return names.count("probe-cancel") == 1; }, 5s));
  scaler.publish(3);
  REQUIRE(file_shows(output, "  active\n", 10s));
  scaler.publish(0);
  CHECK(file_shows(output, "  inactive\n", 10s, "  active\n"));  // the way back down
  REQUIRE(watcher.signal(SIGINT));
  const int status = watcher.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const auto text = ballast::testing::read_text(output);
  const auto inactive = text.find("  inactive\n");
  const auto active = text.find("  active\n");
  CHECK(text.find("metric spec  sessions-active-interviews") < inactive);
  CHECK(inactive < active);
  CHECK(text.find("stream ended: stopped") != std::string::npos);
}

TEST_CASE("probe speaks TLS and mTLS to a scaler that serves it", "[probe]") {
  ballast::testing::TestCerts certs;
  REQUIRE(certs.ok());
  Scaler scaler("grpc-tls-cert-file: " + certs.path("server.crt") + "\ngrpc-tls-key-file: " +
                certs.path("server.key") + "\ngrpc-client-ca-file: " + certs.path("ca.crt") + "\n");
  REQUIRE(scaler.ready);
  scaler.publish(2);
  const std::string target = "--scaler " + scaler.address() + " " + kInterviews;
  const auto mtls = probe_until(target + " --tls-ca-file " + certs.path("ca.crt") + " --tls-cert-file " +
                                    certs.path("client.crt") + " --tls-key-file " + certs.path("client.key"),
                                "value        2");
  CHECK(mtls.exit_code == 0);
  CHECK(mtls.text.find("(TLS)") != std::string::npos);
  CHECK(mtls.text.find("metric spec  sessions-active-interviews") != std::string::npos);

  const auto plaintext = probe(target);
  CHECK(plaintext.exit_code == 3);
  CHECK(plaintext.text.find("add --tls-ca-file if it serves TLS") != std::string::npos);
  const auto no_client_cert = probe(target + " --tls-ca-file " + certs.path("ca.crt"));
  CHECK(no_client_cert.exit_code == 3);
}
