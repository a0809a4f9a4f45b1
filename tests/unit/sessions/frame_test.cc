#include "sources/sessions/frame.h"

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace ballast::sessions {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string many_labels(size_t count) {
  std::string out = "{";
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += ",";
    out += "\"k" + std::to_string(100 + i) + "\":\"v\"";
  }
  return out + "}";
}

struct ValidCase {
  std::string name;
  std::string text;
  std::string counter;
  Labels labels;
  Frame::Kind kind;
  double amount;
};

struct InvalidCase {
  std::string name;
  std::string text;
  std::string message_part;
};

TEST_CASE("valid frames parse into counter, sorted labels and one amount", "[sessions][frame]") {
  const std::vector<ValidCase> cases = {
      {"value with labels", R"({"counter":"active_connections","labels":{"service":"signaling"},"value":42})",
       "active_connections", {{"service", "signaling"}}, Frame::Kind::kValue, 42},
      {"negative delta", R"({"counter":"active_connections","labels":{"service":"signaling"},"delta":-1})",
       "active_connections", {{"service", "signaling"}}, Frame::Kind::kDelta, -1},
      {"no labels", R"({"counter":"c","value":1})", "c", {}, Frame::Kind::kValue, 1},
      {"empty labels", R"({"counter":"c","labels":{},"value":1})", "c", {}, Frame::Kind::kValue, 1},
      {"labels come back sorted by key", R"({"counter":"c","labels":{"zone":"b","app":"x","mid":"m"},"value":1})",
       "c", {{"app", "x"}, {"mid", "m"}, {"zone", "b"}}, Frame::Kind::kValue, 1},
      {"empty label value", R"({"counter":"c","labels":{"k":""},"value":1})", "c", {{"k", ""}},
       Frame::Kind::kValue, 1},
      {"zero value", R"({"counter":"c","value":0})", "c", {}, Frame::Kind::kValue, 0},
      {"fractional value", R"({"counter":"c","value":1.5})", "c", {}, Frame::Kind::kValue, 1.5},
      {"zero delta", R"({"counter":"c","delta":0})", "c", {}, Frame::Kind::kDelta, 0},
      {"positive fractional delta", R"({"counter":"c","delta":2.25})", "c", {}, Frame::Kind::kDelta, 2.25},
      {"exponent value", R"({"counter":"c","value":1e3})", "c", {}, Frame::Kind::kValue, 1000},
      {"every allowed counter character", R"({"counter":"Az09_.:-","value":1})", "Az09_.:-", {},
       Frame::Kind::kValue, 1},
      {"counter of 128 characters", R"({"counter":")" + std::string(128, 'c') + R"(","value":1})",
       std::string(128, 'c'), {}, Frame::Kind::kValue, 1},
      {"fields in any order with whitespace", " { \"value\" : 7 , \"counter\" : \"c\" } ", "c", {},
       Frame::Kind::kValue, 7},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const auto frame = parse_frame(c.text);
      REQUIRE(frame.ok());
      CHECK(frame->counter == c.counter);
      CHECK(frame->labels == c.labels);
      CHECK(frame->kind == c.kind);
      CHECK(frame->amount == c.amount);
    }
  }
}

TEST_CASE("32 labels are accepted and come back sorted", "[sessions][frame]") {
  const auto frame = parse_frame(R"({"counter":"c","labels":)" + many_labels(32) + R"(,"value":1})");
  REQUIRE(frame.ok());
  CHECK(frame->labels.size() == 32);
  CHECK(std::is_sorted(frame->labels.begin(), frame->labels.end()));
}

TEST_CASE("invalid frames are refused with a message that says what is wrong", "[sessions][frame]") {
  const std::vector<InvalidCase> cases = {
      {"not JSON", "hello", "not valid JSON"},
      {"empty text", "", "not valid JSON"},
      {"truncated JSON", R"({"counter":"c","value":)", "not valid JSON"},
      {"trailing garbage", R"({"counter":"c","value":1} x)", "not valid JSON"},
      {"array", R"([{"counter":"c","value":1}])", "must be a JSON object"},
      {"number", "42", "must be a JSON object"},
      {"string", R"("counter")", "must be a JSON object"},
      {"empty object", "{}", "needs a \"counter\""},
      {"missing counter", R"({"value":1})", "needs a \"counter\""},
      {"counter is a number", R"({"counter":5,"value":1})", "\"counter\" must be a string"},
      {"counter is null", R"({"counter":null,"value":1})", "\"counter\" must be a string"},
      {"empty counter", R"({"counter":"","value":1})", "\"counter\" must not be empty"},
      {"counter of 129 characters", R"({"counter":")" + std::string(129, 'c') + R"(","value":1})",
       "longer than 128"},
      {"counter with a space", R"({"counter":"a b","value":1})", "[A-Za-z0-9_.:-]"},
      {"counter with a slash", R"({"counter":"a/b","value":1})", "[A-Za-z0-9_.:-]"},
      {"counter with non-ASCII", R"({"counter":"zähler","value":1})", "[A-Za-z0-9_.:-]"},
      {"labels is an array", R"({"counter":"c","labels":["a"],"value":1})", "\"labels\" must be an object"},
      {"labels is a string", R"({"counter":"c","labels":"a=b","value":1})", "\"labels\" must be an object"},
      {"labels is null", R"({"counter":"c","labels":null,"value":1})", "\"labels\" must be an object"},
      {"label value is a number", R"({"counter":"c","labels":{"a":1},"value":1})", "label \"a\" must be a string"},
      {"label value is an object", R"({"counter":"c","labels":{"a":{}},"value":1})",
       "label \"a\" must be a string"},
      {"empty label name", R"({"counter":"c","labels":{"":"x"},"value":1})", "label names must not be empty"},
      {"33 labels", R"({"counter":"c","labels":)" + many_labels(33) + R"(,"value":1})", "more than 32"},
      {"neither value nor delta", R"({"counter":"c"})", "frame needs exactly one of value or delta"},
      {"both value and delta", R"({"counter":"c","value":1,"delta":1})",
       "frame needs exactly one of value or delta"},
      {"value is a string", R"({"counter":"c","value":"3"})", "\"value\" must be a number"},
      {"value is a boolean", R"({"counter":"c","value":true})", "\"value\" must be a number"},
      {"value is null", R"({"counter":"c","value":null})", "\"value\" must be a number"},
      {"negative value", R"({"counter":"c","value":-1})", "\"value\" must not be negative"},
      // Refused by the JSON parser or by the finiteness rule, whichever the library leaves it to.
      {"value beyond double range", R"({"counter":"c","value":1e999})", ""},
      {"delta is a string", R"({"counter":"c","delta":"-1"})", "\"delta\" must be a number"},
      {"delta is an array", R"({"counter":"c","delta":[1]})", "\"delta\" must be a number"},
      {"delta beyond double range", R"({"counter":"c","delta":-1e999})", ""},
      // Finite, but two of them would sum to +inf (and GetMetrics answered 0 for that).
      {"value of 1e308", R"({"counter":"c","value":1e308})", "\"value\" must be between -1e15 and 1e15"},
      {"delta past the limit", R"({"counter":"c","delta":-2e15})", "\"delta\" must be between -1e15 and 1e15"},
      {"misspelt field", R"({"counter":"c","lables":{"a":"b"},"value":1})", "unknown field \"lables\""},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const auto frame = parse_frame(c.text);
      REQUIRE_FALSE(frame.ok());
      CHECK(frame.error().code == ErrorCode::kInvalidArgument);
      CHECK_THAT(frame.error().message, Catch::Matchers::Contains(c.message_part));
    }
  }
}

}  // namespace

TEST_CASE("a frame nested past the depth limit is refused before parsing", "[frame][nesting]") {
  const std::string deep = R"({"counter":"c","value":1,"labels":)" + std::string(100'000, '{') + "}";
  const auto parsed = parse_frame(deep);
  REQUIRE_FALSE(parsed.ok());
  CHECK_THAT(parsed.error().message, Catch::Contains("deeper than 128 levels"));
}

}  // namespace ballast::sessions
