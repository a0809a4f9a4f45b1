#include "core/timestamp.h"

#include <catch2/catch.hpp>

#include "core/base64.h"

using namespace ballast;

TEST_CASE("RFC 3339 times parse with zones and fractions and print back in UTC", "[time]") {
  auto zulu = parse_time("2026-11-22T10:00:00Z");
  REQUIRE(zulu.ok());
  CHECK(format_time(*zulu) == "2026-11-22T10:00:00Z");
  auto offset = parse_time("2026-11-22T11:00:00+01:00");
  REQUIRE(offset.ok());
  CHECK(*offset == *zulu);
  auto fraction = parse_time("2026-11-22T10:00:00.250Z");
  REQUIRE(fraction.ok());
  CHECK(*fraction - *zulu == std::chrono::milliseconds(250));
  CHECK(format_micro_time(*fraction) == "2026-11-22T10:00:00.250000Z");
  for (const char* bad : {"2026-11-22", "2026-11-22T10:00:00", "yesterday", "2026-13-01T00:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_time(bad).ok());
  }
}

TEST_CASE("a time outside the years a time point can hold is refused, not overflowed", "[time]") {
  // Found by fuzz/scalars_fuzz.cc: year 226 overflowed the nanosecond count (undefined behaviour).
  for (const char* far : {"0226-12-07T00:00:00z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    INFO(far);
    const auto parsed = parse_time(far);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains("outside the years 1679 to 2261"));
  }
  CHECK(parse_time("1679-01-01T00:00:00Z").ok());
  CHECK(parse_time("2261-12-31T23:59:59Z").ok());
}

TEST_CASE("base64 decodes Secret data and rejects anything else", "[base64]") {
  CHECK(base64_decode("cGlwZWxpbmUtdG9rZW4=").value() == "pipeline-token");
  CHECK(base64_decode("S0VZ\n").value() == "KEY");
  CHECK(base64_decode("").value().empty());
  for (const char* bad : {"abc", "@@@@", "a==="}) {
    INFO(bad);
    CHECK_FALSE(base64_decode(bad).ok());
  }
}

TEST_CASE("base64 matches RFC 4648's test vectors", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}, {"[]", "W10="}};
  for (const auto& [plain, encoded] : vectors) CHECK(base64_encode(plain) == encoded);
  CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
}
