#include "kube/wire.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using namespace ballast;
using namespace ballast::kube;
using nlohmann::json;

TEST_CASE("a list page yields its items with kind and apiVersion, its resourceVersion and continue token") {
  auto page = decode_list_page(
      R"({"kind":"PodList","metadata":{"resourceVersion":"42","continue":"next"},"items":[{"metadata":{"name":"a"}}]})",
      pods(), "list pods");
  REQUIRE(page.ok());
  CHECK(page->resource_version == "42");
  CHECK(page->continue_token == "next");
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0]["kind"] == "Pod");
  CHECK(page->items[0]["apiVersion"] == "v1");
  CHECK(page->items[0]["metadata"]["name"] == "a");

  auto empty = decode_list_page(R"({"metadata":{},"items":null})", pods(), "list pods");
  REQUIRE(empty.ok());
  CHECK(empty->items.empty());
  CHECK(empty->continue_token.empty());
}

// Each of these threw nlohmann::json::type_error out of KubeClient::list (seen while
// writing fuzz/kube_list): on the informer's thread that ends the process.
TEST_CASE("a list page of the wrong shape is an error naming the key, never an exception") {
  struct Case {
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {R"([])", "list pods: the answer is not a JSON object"},
      {R"("PodList")", "list pods: the answer is not a JSON object"},
      {R"({"metadata":[]})", "list pods: metadata is not an object"},
      {R"({"metadata":{"continue":5}})", "list pods: metadata.continue is not a string"},
      {R"({"metadata":{"resourceVersion":{}}})", "list pods: metadata.resourceVersion is not a string"},
      {R"({"items":{}})", "list pods: items is not an array"},
      {R"({"items":[{},7]})", "list pods: items[1] is not an object"},
      {R"({"items":[)", "list pods: the apiserver answered with a body that is not JSON"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto page = decode_list_page(c.body, pods(), "list pods");
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == ErrorCode::kIo);
    CHECK(page.error().message == c.message);
  }
  auto deep = decode_list_page(std::string(200, '[') + std::string(200, ']'), pods(), "list pods");
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.error().message.find("nests deeper than 128") != std::string::npos);
}

struct Collected {
  std::vector<WatchEvent> events;
  WatchLineReader reader{"watch pods", [this](WatchEvent event) { events.push_back(std::move(event)); }};
};

TEST_CASE("watch lines split across pieces become events in order; blank lines are skipped") {
  Collected c;
  CHECK(c.reader.consume(R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})" "\n\r\n{\"type\":\"BOOK"));
  CHECK(c.reader.consume(R"(MARK","object":{"metadata":{"resourceVersion":"9"}}})"));
  CHECK(c.events.size() == 1);
  CHECK(c.reader.consume("\n"));
  REQUIRE(c.events.size() == 2);
  CHECK(c.events[0].type == "ADDED");
  CHECK(c.events[0].object["metadata"]["name"] == "a");
  CHECK(c.events[1].type == "BOOKMARK");
  CHECK_FALSE(c.reader.error());
}

TEST_CASE("a watch line that is not an event ends the stream with an error") {
  struct Case {
    const char* line;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {"not json", ErrorCode::kIo, "watch pods: malformed watch event"},
      {R"({"object":{}})", ErrorCode::kIo, "watch pods: malformed watch event"},
      {R"({"type":1,"object":{}})", ErrorCode::kIo, "watch pods: malformed watch event"},
      // The informer wrote kind/apiVersion into a scalar and threw on an I/O thread.
      {R"({"type":"ADDED","object":5})", ErrorCode::kIo, "watch pods: malformed watch event (ADDED without an object)"},
      {R"({"type":"MODIFIED","object":null})", ErrorCode::kIo,
       "watch pods: malformed watch event (MODIFIED without an object)"},
      {R"({"type":"ERROR","object":{"code":410,"reason":"Expired","message":"too old"}})", ErrorCode::kExpired,
       "watch pods: HTTP 410 Expired: too old"},
      {R"({"type":"ERROR","object":[]})", ErrorCode::kUnavailable, "watch pods: HTTP 500"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    Collected collected;
    CHECK_FALSE(collected.reader.consume(std::string(c.line) + "\n{\"type\":\"ADDED\",\"object\":{}}\n"));
    CHECK(collected.events.empty());
    REQUIRE(collected.reader.error());
    CHECK(collected.reader.error()->code == c.code);
    CHECK(collected.reader.error()->message == c.message);
    CHECK_FALSE(collected.reader.consume("{\"type\":\"ADDED\",\"object\":{}}\n"));
  }
}

TEST_CASE("a watch line longer than 16 MiB without a newline ends the stream") {
  Collected c;
  const std::string piece(1u << 20, 'x');
  bool open = true;
  for (int i = 0; i < 17 && open; ++i) open = c.reader.consume(piece);
  CHECK_FALSE(open);
  REQUIRE(c.reader.error());
  CHECK(c.reader.error()->message == "watch pods: a watch event is larger than 16777216 bytes");
}

}  // namespace
