// Kafka source benchmarks, self-contained: an embedded librdkafka mock cluster, the kafka
// source and the ExternalScaler on loopback, read by a gRPC client as KEDA reads them.
//   wake:  first produced message → StreamIsActive `true` at the client, over N trials
//          with the default pollInterval (1 s); prints p50/p95/max.
//   round: one poll round for G groups × P partitions (one topic per group) on one
//          cluster; prints the mean and max round time from ballast_kafka_poll_duration_seconds.
// Usage: kafka_bench [--trials 50] [--groups 50] [--partitions 20]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "externalscaler.grpc.pb.h"
#include "scaler/grpc/grpc_server.h"
#include "scaler/metric_hub.h"
#include "sources/kafka/kafka_source.h"
#include "demo/support/mock_cluster.h"

namespace {

using namespace std::chrono_literals;
using namespace ballast;
using Steady = std::chrono::steady_clock;

struct Options {
  int trials = 50;
  int groups = 50;
  int partitions = 20;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (key == "--trials") options.trials = value;
    if (key == "--groups") options.groups = value;
    if (key == "--partitions") options.partitions = value;
  }
  return options;
}

void check(const Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, status.error().message.c_str());
  std::exit(1);
}

struct Bench {
  Bench() : hub(clock), source(hub, {}, metrics, clock) {
    auto started_cluster = kafka::MockCluster::start(3);
    if (!started_cluster) check(started_cluster.error(), "mock cluster");
    cluster = std::move(*started_cluster);
    ScalerConfig config;
    config.grpc_address = "127.0.0.1:0";
    auto started = scaler::GrpcServer::start(config, hub, scaler::Sources{{scaler::SourceKind::kKafka, &source}}, metrics);
    if (!started) check(started.error(), "grpc server");
    server = std::move(*started);
    stub = externalscaler::ExternalScaler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  }
  ~Bench() {
    server->shutdown(1s);
    source.stop();
  }

  externalscaler::ScaledObjectRef ref(const std::string& group, const std::string& topic) const {
    externalscaler::ScaledObjectRef out;
    out.set_name(group);
    out.set_namespace_("bench");
    auto& metadata = *out.mutable_scalermetadata();
    metadata["source"] = "kafka";
    metadata["bootstrapServers"] = cluster->bootstrap_servers();
    metadata["consumerGroup"] = group;
    metadata["topic"] = topic;
    return out;
  }

  // GetMetrics until the source has published a value for the trigger.
  double wait_for_value(const externalscaler::ScaledObjectRef& ref) {
    const auto deadline = Steady::now() + 20s;
    while (Steady::now() < deadline) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 3s);
      externalscaler::GetMetricsRequest request;
      *request.mutable_scaledobjectref() = ref;
      externalscaler::GetMetricsResponse response;
      if (stub->GetMetrics(&context, request, &response).ok() && response.metricvalues_size() == 1) {
        return response.metricvalues(0).metricvaluefloat();
      }
      std::this_thread::sleep_for(10ms);
    }
    std::fprintf(stderr, "no value for %s\n", ref.name().c_str());
    std::exit(1);
  }

  SteadyClock clock;
  scaler::MetricHub hub;
  MetricsRegistry metrics;
  kafka::KafkaSource source;
  std::unique_ptr<kafka::MockCluster> cluster;
  std::unique_ptr<scaler::GrpcServer> server;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5));
  return values[index];
}

void wake(Bench& bench, int trials) {
  std::vector<double> seconds;
  for (int trial = 0; trial < trials; ++trial) {
    const std::string topic = "wake-" + std::to_string(trial);
    const std::string group = "wake-workers-" + std::to_string(trial);
    check(bench.cluster->create_topic(topic, 2), "create topic");
    check(bench.cluster->commit(group, topic, 0, 0), "commit");
    check(bench.cluster->commit(group, topic, 1, 0), "commit");
    const auto ref = bench.ref(group, topic);
    bench.wait_for_value(ref);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    auto reader = bench.stub->StreamIsActive(&context, ref);
    externalscaler::IsActiveResponse response;
    if (!reader->Read(&response) || response.result()) {
      std::fprintf(stderr, "stream did not open inactive\n");
      std::exit(1);
    }
    // A random phase against the 1 s poll, as real traffic has.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::rand() % 1000));
    const auto produced = Steady::now();
    check(bench.cluster->produce(topic, trial % 2, 1), "produce");
    if (!reader->Read(&response) || !response.result()) {
      std::fprintf(stderr, "no activation event\n");
      std::exit(1);
    }
    seconds.push_back(std::chrono::duration<double>(Steady::now() - produced).count());
    context.TryCancel();
    reader->Finish();
  }
  std::printf("wake (first message -> StreamIsActive true, pollInterval 1s, %d trials): p50 %.3f s  p95 %.3f s  max %.3f s\n",
              trials, percentile(seconds, 0.5), percentile(seconds, 0.95), percentile(seconds, 1.0));
}

void round(Bench& bench, int groups, int partitions) {
  std::vector<externalscaler::ScaledObjectRef> refs;
  for (int g = 0; g < groups; ++g) {
    const std::string topic = "round-" + std::to_string(g);
    const std::string group = "round-workers-" + std::to_string(g);
    check(bench.cluster->create_topic(topic, partitions), "create topic");
    for (int p = 0; p < partitions; ++p) check(bench.cluster->commit(group, topic, p, 0), "commit");
    check(bench.cluster->produce(topic, g % partitions, 5), "produce");
    refs.push_back(bench.ref(group, topic));
  }
  for (const auto& ref : refs) bench.wait_for_value(ref);
  // Let the keys converge into shared rounds, then measure whole rounds only.
  std::this_thread::sleep_for(3s);
  // The poller labels its metrics with the sorted server list, as triggers canonicalize it.
  std::vector<std::string> servers;
  std::string all = bench.cluster->bootstrap_servers() + ",";
  for (size_t start = 0, comma; (comma = all.find(',', start)) != std::string::npos; start = comma + 1) {
    servers.push_back(all.substr(start, comma - start));
  }
  std::sort(servers.begin(), servers.end());
  std::string cluster;
  for (const auto& server : servers) cluster += (cluster.empty() ? "" : ",") + server;
  auto& histogram = bench.metrics.histogram("ballast_kafka_poll_duration_seconds", "", {{"cluster", cluster}},
                                            latency_buckets_seconds());
  const auto before = histogram.snapshot();
  std::this_thread::sleep_for(10s);
  const auto after = histogram.snapshot();
  const auto rounds = after.count - before.count;
  const double mean = rounds ? (after.sum - before.sum) / static_cast<double>(rounds) : 0;
  double worst_bound = 0;
  for (size_t i = 0; i < after.upper_bounds.size(); ++i) {
    if (after.cumulative_counts[i] - before.cumulative_counts[i] < rounds) worst_bound = after.upper_bounds[std::min(i + 1, after.upper_bounds.size() - 1)];
  }
  std::printf("round (%d groups x %d partitions, one cluster): %llu rounds in 10 s, mean %.2f ms, max <= %.1f ms\n",
              groups, partitions, static_cast<unsigned long long>(rounds), mean * 1000, worst_bound * 1000);
}

}  // namespace

int main(int argc, char** argv) {
  set_log_level(LogLevel::kWarn);
  const Options options = parse(argc, argv);
  {
    Bench bench;
    wake(bench, options.trials);
  }
  {
    Bench bench;
    round(bench, options.groups, options.partitions);
  }
  return 0;
}
