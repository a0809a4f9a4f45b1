#include "nodepool/quantity.h"

#include <catch2/catch.hpp>

using namespace ballast::nodepool;

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
