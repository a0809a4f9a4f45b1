#include "core/metrics.h"

#include <catch2/catch.hpp>

using ballast::MetricsRegistry;

TEST_CASE("counters and gauges render in Prometheus text format", "[metrics]") {
  MetricsRegistry registry;
  registry.counter("ballast_frames_total", "Frames", {{"result", "ok"}}).increment(3);
  registry.gauge("ballast_connections", "Open connections").set(2);
  const auto text = registry.render();
  CHECK(text.find("# TYPE ballast_frames_total counter\n") != std::string::npos);
  CHECK(text.find("ballast_frames_total{result=\"ok\"} 3\n") != std::string::npos);
  CHECK(text.find("# TYPE ballast_connections gauge\nballast_connections 2\n") != std::string::npos);
}

TEST_CASE("the same name and labels return the same metric", "[metrics]") {
  MetricsRegistry registry;
  auto& first = registry.counter("c_total", "help", {{"a", "1"}});
  auto& second = registry.counter("c_total", "help", {{"a", "1"}});
  CHECK(&first == &second);
}

TEST_CASE("histograms render cumulative buckets, sum and count", "[metrics]") {
  MetricsRegistry registry;
  auto& histogram = registry.histogram("rpc_seconds", "latency", {{"method", "GetMetrics"}}, {0.1, 1});
  histogram.observe(0.05);
  histogram.observe(0.5);
  histogram.observe(5);
  const auto text = registry.render();
  CHECK(text.find("rpc_seconds_bucket{method=\"GetMetrics\",le=\"0.10000000000000001\"} 1\n") != std::string::npos);
  CHECK(text.find("rpc_seconds_bucket{method=\"GetMetrics\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("rpc_seconds_bucket{method=\"GetMetrics\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("rpc_seconds_count{method=\"GetMetrics\"} 3\n") != std::string::npos);
}

TEST_CASE("label values are escaped", "[metrics]") {
  MetricsRegistry registry;
  registry.gauge("g", "help", {{"key", "a\"b\\c"}}).set(1);
  CHECK(registry.render().find("g{key=\"a\\\"b\\\\c\"} 1\n") != std::string::npos);
}

TEST_CASE("samplers are read at scrape time", "[metrics]") {
  MetricsRegistry registry;
  double age = 1.5;
  registry.add_sampler("age_seconds", "age", "gauge", [&age] {
    return std::vector<std::pair<ballast::Labels, double>>{{{{"source_key", "k"}}, age}};
  });
  CHECK(registry.render().find("age_seconds{source_key=\"k\"} 1.5\n") != std::string::npos);
  age = 3;
  CHECK(registry.render().find("age_seconds{source_key=\"k\"} 3\n") != std::string::npos);
}
