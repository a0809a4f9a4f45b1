#include "kube/model/quantity.h"

#include <catch2/catch.hpp>

using namespace ballast::kube;

TEST_CASE("quantities parse into exact millicores", "[quantity]") {
  struct Row {
    const char* text;
    int64_t milli;
  };
  const Row rows[] = {
      {"100m", 100}, {"2", 2000},    {"0.5", 500},   {"1.5", 1500}, {"0.1", 100}, {"1e3", 1000000},
      {"1E-3", 1},   {"+250m", 250}, {"0.0001", 1},  {"3900m", 3900}, {"0", 0},   {"1k", 1000000},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    auto parsed = parse_milli(row.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == row.milli);
  }
}

TEST_CASE("quantities parse into exact bytes with binary and decimal suffixes", "[quantity]") {
  struct Row {
    const char* text;
    int64_t units;
  };
  const Row rows[] = {
      {"8Gi", 8LL << 30}, {"256Mi", 256LL << 20}, {"1Ki", 1024},        {"1Ti", 1LL << 40},
      {"129M", 129000000}, {"1G", 1000000000},    {"128974848", 128974848}, {"1.5Gi", 3LL << 29},
      {"1e3", 1000},       {"110", 110},          {"500m", 1},          {"12e6", 12000000},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    auto parsed = parse_units(row.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == row.units);
  }
}

TEST_CASE("malformed, negative and huge quantities are errors naming the text", "[quantity]") {
  for (const char* text : {"", "abc", "-1", "1Xi", "1.2.3", "m", "1e", "9999999999999999999Ei", "1 Gi"}) {
    INFO(text);
    auto parsed = parse_units(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().message.find("invalid quantity") != std::string::npos);
  }
}

TEST_CASE("the quantity grammar accepts what the apiserver accepts for a request", "[quantity]") {
  for (const char* good : {"100m", "1", "0.5", "128Mi", "1Gi", "2e3", "1.5G", "500k", ".5", "5.", "+1", "1E", "1e-3",
                           "1E+2", "12n", "3u", "99999999999999999999999Ei"}) {
    INFO(good);
    CHECK(is_valid_quantity(good));
  }
  for (const char* bad : {"", "m", "1.5.5", "12MB", "1e", "1mi", "-1", "lots", ".", "+", "1 Gi", "1e3m", "1e101",
                          "Ki", "1KI"}) {
    INFO(bad);
    CHECK_FALSE(is_valid_quantity(bad));
  }
}

TEST_CASE("sub-unit quantities round up, and every suffix scales exactly", "[quantity]") {
  struct Row {
    const char* text;
    int64_t units;
  };
  const Row rows[] = {
      {"1n", 1},          {"1u", 1},           {"1m", 1},
      {"1k", 1000},       {"1M", 1000000},     {"1G", 1000000000},
      {"1T", 1000000000000}, {"1P", 1000000000000000}, {"1E", 1000000000000000000},
      {"1Ki", 1LL << 10}, {"1Mi", 1LL << 20},  {"1Gi", 1LL << 30},
      {"1Ti", 1LL << 40}, {"1Pi", 1LL << 50},  {"1Ei", 1LL << 60},
      {"0.5Ki", 512},     {"2.5e2", 250},      {"1.0001", 2},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    auto parsed = parse_units(row.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == row.units);
  }
  CHECK(*parse_milli("1n") == 1);
  CHECK(*parse_milli("1.0001m") == 2);
  CHECK_FALSE(parse_milli("9300P").ok());  // 9.3e18 millis: past int64
}
