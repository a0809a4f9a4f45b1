// The `ballast` executable end to end: commands, exit codes, serve with real clients,
// and a graceful SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <grpcpp/grpcpp.h>
#include <thread>

#include "externalscaler.grpc.pb.h"
#include "fakes/loopback_client.h"
#include "fakes/serve_process.h"
#include "fakes/shell.h"
#include "demo/support/session_publisher.h"

using namespace std::chrono_literals;

namespace {

// The built binary with `args`; stdout and stderr.
ballast::testing::CommandOutput run(const std::string& args) {
  return ballast::testing::run_command(std::string(BALLAST_BINARY) + " " + args + " 2>&1");
}

using ballast::testing::becomes_ready;
using ballast::testing::free_port;
using ballast::testing::http_get;
using ballast::testing::TempDir;

}  // namespace

TEST_CASE("ballast version prints the version", "[binary]") {
  const auto out = run("version");
  CHECK(out.exit_code == 0);
  CHECK(out.text.rfind("ballast ", 0) == 0);
}

TEST_CASE("unknown commands exit 2 with usage", "[binary]") {
  const auto out = run("frobnicate");
  CHECK(out.exit_code == 2);
  CHECK(out.text.find("usage: ballast") != std::string::npos);
}

TEST_CASE("check-config prints the effective config and flags win", "[binary]") {
  TempDir dir;
  const auto file = dir.write("ballast.yaml", "grpc-address: 127.0.0.1:7000\nlog-level: warn\n");
  const auto out = run("check-config --config " + file + " --log-level debug");
  CHECK(out.exit_code == 0);
  CHECK(out.text.find("grpc-address: 127.0.0.1:7000") != std::string::npos);
  CHECK(out.text.find("log-level: debug") != std::string::npos);
}

TEST_CASE("check-config exits 1 with a clear message on an invalid file", "[binary]") {
  TempDir dir;
  const auto file = dir.write("ballast.yaml", "grpc-adress: 127.0.0.1:7000\n");
  const auto out = run("check-config --config " + file);
  CHECK(out.exit_code == 1);
  CHECK(out.text.find("unknown key \"grpc-adress\"") != std::string::npos);
}

TEST_CASE("a directory where a file belongs is refused with exit 1, not an abort", "[binary]") {
  TempDir dir;
  const auto config = dir.write("ballast.yaml", "log-level: warn\n");
  const std::string port = " --grpc-address 127.0.0.1:" + std::to_string(free_port()) +
                           " --admin-address 127.0.0.1:" + std::to_string(free_port());
  for (const std::string& args : {"check-config --config " + dir.path, "serve --config " + dir.path + port,
                                  "check-config --config " + config + " --policy " + dir.path,
                                  "check-config --config " + config + " --sessions-token-file " + dir.path,
                                  "serve --components scaler,sessions --sessions-token-file " + dir.path + port}) {
    INFO(args);
    const auto out = run(args);
    CHECK(out.exit_code == 1);
    CHECK(out.text.find("is a directory") != std::string::npos);
  }
}

TEST_CASE("serve stops gracefully on SIGHUP, like SIGTERM", "[binary]") {
  const uint16_t admin_port = free_port();
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string grpc = "--grpc-address=127.0.0.1:" + std::to_string(free_port());
    const std::string admin = "--admin-address=127.0.0.1:" + std::to_string(admin_port);
    execl(BALLAST_BINARY, BALLAST_BINARY, "serve", "--components", "scaler", grpc.c_str(), admin.c_str(),
          "--log-level", "warn", nullptr);
    _exit(127);
  }
  REQUIRE(becomes_ready(admin_port));
  REQUIRE(kill(child, SIGHUP) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));  // not killed by the signal (exit 129)
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("serve answers KEDA and publishers, exposes metrics and stops cleanly on SIGTERM", "[binary]") {
  TempDir dir;
  const auto tokens = dir.write("tokens", "\nsecret-one\n  secret-two  \n");
  const uint16_t grpc_port = free_port(), sessions_port = free_port(), admin_port = free_port();
  const auto config = dir.write("ballast.yaml", "grpc-address: 127.0.0.1:" + std::to_string(grpc_port) +
                                                    "\nsessions-address: 127.0.0.1:" +
                                                    std::to_string(sessions_port) + "\nsessions-token-file: " +
                                                    tokens + "\nlog-level: warn\n");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string admin = "--admin-address=127.0.0.1:" + std::to_string(admin_port);
    execl(BALLAST_BINARY, BALLAST_BINARY, "serve", "--config", config.c_str(), admin.c_str(), nullptr);
    _exit(127);
  }

  REQUIRE(becomes_ready(admin_port));
  CHECK(http_get(admin_port, "/healthz").find(" 200 ") != std::string::npos);

  auto stub = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials()));
  externalscaler::ScaledObjectRef ref;
  (*ref.mutable_scalermetadata())["source"] = "sessions";
  (*ref.mutable_scalermetadata())["counter"] = "active_connections";
  (*ref.mutable_scalermetadata())["threshold"] = "50";
  grpc::ClientContext stream_context;
  auto stream = stub->StreamIsActive(&stream_context, ref);
  externalscaler::IsActiveResponse event;
  REQUIRE(stream->Read(&event));
  CHECK_FALSE(event.result());

  CHECK_FALSE(ballast::sessions::SessionPublisher::connect("127.0.0.1", sessions_port, "wrong").ok());
  auto publisher = ballast::sessions::SessionPublisher::connect("127.0.0.1", sessions_port, "secret-two");
  REQUIRE(publisher.ok());
  REQUIRE((*publisher)->send(R"({"counter":"active_connections","value":12})").ok());
  REQUIRE(stream->Read(&event));
  CHECK(event.result());

  grpc::ClientContext spec_context;
  externalscaler::GetMetricSpecResponse spec;
  REQUIRE(stub->GetMetricSpec(&spec_context, ref, &spec).ok());
  const auto metrics = http_get(admin_port, "/metrics");
  CHECK(metrics.find("ballast_scaler_rpc_duration_seconds_count{method=\"GetMetricSpec\",code=\"OK\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("ballast_sessions_connections 1") != std::string::npos);
  CHECK(metrics.find("ballast_source_data_age_seconds{source_key=\"sessions|active_connections\"}") !=
        std::string::npos);

  REQUIRE(kill(child, SIGTERM) == 0);
  CHECK_FALSE(stream->Read(&event));
  CHECK(stream->Finish().ok());
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("serve refuses to start when a port is taken", "[binary]") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(fd, 1) == 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const auto taken = std::to_string(ntohs(address.sin_port));
  const auto out = run("serve --components scaler --grpc-address 127.0.0.1:" + std::to_string(free_port()) +
                       " --admin-address 127.0.0.1:" + taken);
  close(fd);
  CHECK(out.exit_code == 1);
  CHECK(out.text.find("admin-address") != std::string::npos);
}

namespace {

// A base port whose next three are free as well (`ballast demo --base-port`).
uint16_t four_free_ports() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const uint16_t base = free_port();
    if (base > 65530) continue;
    bool all_free = true;
    for (uint16_t offset = 1; offset < 4 && all_free; ++offset) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(base + offset));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      all_free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
      close(fd);
    }
    if (all_free) return base;
  }
  return 0;
}

}  // namespace

TEST_CASE("demo shows every component: webhook patches, the planner, the scaler table, a probe command",
          "[binary][demo]") {
  const uint16_t base = four_free_ports();
  REQUIRE(base != 0);
  TempDir dir;
  const auto output = dir.path + "/demo.out";
  const auto started = std::chrono::steady_clock::now();
  ballast::testing::ChildProcess demo("/bin/sh", {"-c", "exec " + std::string(BALLAST_BINARY) + " demo --base-port " +
                                                            std::to_string(base) + " > " + output + " 2>&1"});
  // By the first table the simulation and the push watchers have started; each names itself.
  REQUIRE(ballast::testing::file_shows(output, "SCALEDOBJECT", 30s));
  // One push watcher per Kafka and sessions row: 5 of the table's 8 (Prometheus has no backend here).
  CHECK(ballast::testing::threads_become(
      demo.pid(),
      [](const std::multiset<std::string>& names) {
        return names.count("demo-sim") == 1 &&
               std::count_if(names.begin(), names.end(),
                             [](const std::string& name) { return name.rfind("demo-push-", 0) == 0; }) == 5;
      },
      5s));
  // SIGINT after a few seconds, as Ctrl-C: every Kafka and sessions row has its value by then.
  std::this_thread::sleep_until(started + 8s * ballast::testing::child_slowdown());
  REQUIRE(demo.signal(SIGINT));
  const int status = demo.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const auto text = ballast::testing::read_text(output);
  INFO(text);
  // The banner first: no warning about components the demo does not run.
  CHECK(text.rfind("ballast demo: every component on 127.0.0.1", 0) == 0);
  CHECK(text.find("\"level\":\"warn\"") == std::string::npos);
  CHECK(text.find("https://127.0.0.1:" + std::to_string(base + 3) + "/mutate") != std::string::npos);
  // The webhook, over HTTPS with the in-memory certificate: one patch per tier.
  for (const char* tier : {"batch", "critical", "infra", "scale-to-zero", "standard", "stateful"}) {
    CHECK(text.find("\"ballast.dev/applied-tier\":\"" + std::string(tier) + "\"") != std::string::npos);
  }
  CHECK(text.find("add /spec/template/spec/priorityClassName \"platform-infra-critical\"") != std::string::npos);
  CHECK(text.find("add /spec/template/spec/priorityClassName \"platform-critical\"") != std::string::npos);
  CHECK(text.find("webhook failed") == std::string::npos);
  // The planner on the compiled-in snapshot.
  CHECK(text.find("plan at 2026-11-22T10:00:00Z") != std::string::npos);
  CHECK(text.find("general: remove node-3") != std::string::npos);
  // The probe command instead of grpcurl and websocat.
  CHECK(text.find(" probe --scaler 127.0.0.1:" + std::to_string(base)) != std::string::npos);
  CHECK(text.find("grpcurl") == std::string::npos);
  CHECK(text.find("websocat") == std::string::npos);
  // The scaler table: the ScaledObjects of examples/, the activation column, the Prometheus rows.
  const auto last_table = text.rfind("SCALEDOBJECT");
  REQUIRE(last_table != std::string::npos);
  const auto table = text.substr(last_table);
  CHECK(table.find("ACTIVATION") != std::string::npos);
  for (const char* object : {"platform/signaling", "platform/notifications", "platform/assessment", "platform/auth",
                             "ai-services/stt-worker", "ai-services/tts-worker", "ai-services/llm-gateway"}) {
    CHECK(table.find(object) != std::string::npos);
  }
  CHECK(table.find("prometheus       -      25 > 0        -      -            no backend configured") !=
        std::string::npos);
  CHECK(table.find("UNAVAILABLE") == std::string::npos);  // every Kafka and sessions row has its value by now
}
