#include "sources/prom/prom_response.h"

#include <catch2/catch.hpp>

#include <string>

using namespace ballast;
using namespace ballast::prom;

namespace {

std::string vector_of(const std::string& samples) {
  return R"({"status":"success","data":{"resultType":"vector","result":[)" + samples + "]}}";
}

std::string sample(const std::string& value, const std::string& job = "interviews") {
  return R"({"metric":{"job":")" + job + R"("},"value":[1700000000.123,")" + value + R"("]})";
}

}  // namespace

TEST_CASE("instant query bodies parse to a value, a null or an error", "[prom][response]") {
  struct Row {
    const char* name;
    std::string body;
    std::optional<double> value;          // expected value when ok and not null
    bool null = false;                    // ok, but no sample
    std::optional<ErrorCode> error;       // expected error category
    const char* message = "";             // text the error must contain
  };
  auto value = [](const char* name, std::string body, double v) {
    return Row{name, std::move(body), v, false, {}, ""};
  };
  auto null = [](const char* name, std::string body) { return Row{name, std::move(body), {}, true, {}, ""}; };
  auto fails = [](const char* name, std::string body, ErrorCode code, const char* message) {
    return Row{name, std::move(body), {}, false, code, message};
  };
  const std::vector<Row> rows = {
      value("one-sample vector", vector_of(sample("7")), 7.0),
      value("negative fractional sample", vector_of(sample("-2.5")), -2.5),
      value("scalar", R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}})", 42.0),
      null("empty vector", vector_of("")),
      null("NaN sample", vector_of(sample("NaN"))),
      null("+Inf sample", vector_of(sample("+Inf"))),
      null("-Inf sample", vector_of(sample("-Inf"))),
      null("NaN scalar", R"({"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}})"),
      fails("two series", vector_of(sample("1", "a") + "," + sample("2", "b")), ErrorCode::kInvalidArgument,
            "sum(...)"),
      fails("error status", R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"})",
            ErrorCode::kInvalidArgument, "bad_data): 1:5: parse error"),
      fails("matrix", R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
            ErrorCode::kInvalidArgument, "range vector"),
      fails("string", R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})",
            ErrorCode::kInvalidArgument, "string"),
      fails("truncated JSON", vector_of(sample("7")).substr(0, 40), ErrorCode::kIo, "not JSON"),
      fails("garbage", "<html>502 Bad Gateway</html>", ErrorCode::kIo, "not JSON"),
      fails("empty body", "", ErrorCode::kIo, "not JSON"),
      fails("JSON array", "[1,2]", ErrorCode::kIo, "not a JSON object"),
      fails("no data", R"({"status":"success"})", ErrorCode::kIo, "no data"),
      fails("value not a string", vector_of(R"({"metric":{},"value":[1,7]})"), ErrorCode::kIo, "[timestamp"),
      fails("value not a number", vector_of(sample("seven")), ErrorCode::kIo, "\"seven\""),
      fails("sample without value", vector_of(R"({"metric":{},"values":[[1,"1"]]})"), ErrorCode::kIo, "no value"),
      fails("huge body", vector_of(sample("1") + "," + std::string(kMaxResponseBytes, ' ') + sample("2")),
            ErrorCode::kIo, "byte limit"),
  };
  for (const auto& row : rows) {
    SECTION(row.name) {
      const auto parsed = parse_query_response(row.body);
      if (row.error) {
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().code == *row.error);
        INFO(parsed.error().message);
        CHECK(parsed.error().message.find(row.message) != std::string::npos);
      } else {
        INFO((parsed.ok() ? "" : parsed.error().message));
        REQUIRE(parsed.ok());
        CHECK(parsed->has_value() == !row.null);
        if (row.value) CHECK(**parsed == *row.value);
      }
    }
  }
}

TEST_CASE("a large body under the limit still parses", "[prom][response]") {
  const std::string labels(100'000, 'x');
  const auto parsed = parse_query_response(vector_of(sample("3", labels)));
  REQUIRE(parsed.ok());
  CHECK(**parsed == 3);
}

TEST_CASE("null reads as zero only when ignoreNullValues is set", "[prom][response]") {
  CHECK(*resolve_null(5.0, false) == 5);
  CHECK(*resolve_null(std::nullopt, true) == 0);
  const auto refused = resolve_null(std::nullopt, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kUnavailable);
  CHECK(refused.error().message.find("ignoreNullValues") != std::string::npos);
}

TEST_CASE("a response nested past the depth limit is malformed, not parsed", "[prom][nesting]") {
  const std::string deep = R"({"status":"success","data":{"resultType":"vector","result":)" +
                           std::string(100'000, '[') + std::string(100'000, ']') + "}}";
  const auto parsed = parse_query_response(deep);
  REQUIRE_FALSE(parsed.ok());
  CHECK_THAT(parsed.error().message, Catch::Contains("deeper than 128 levels"));
}
