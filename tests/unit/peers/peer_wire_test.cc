#include "peers/peer_wire.h"

#include <catch2/catch.hpp>

namespace ballast::peers {
namespace {

sessions::ConnectionShare share(uint64_t id, double value) {
  return {id, "signaling-" + std::to_string(id), 1'733'520'000'000'000 + static_cast<int64_t>(id),
          {{sessions::SeriesKey{"active", {{"region", "eu"}, {"service", "a"}}}, value},
           {sessions::SeriesKey{"idle", {}}, 0}}};
}

}  // namespace

TEST_CASE("an update survives the wire unchanged", "[peers][wire]") {
  PeerUpdate update;
  update.shares = {share(7, 42.5), share(8, 1)};
  update.gone = {3, 4};
  update.synced = true;
  const auto decoded = decode_update(encode_update(update));
  REQUIRE(decoded.ok());
  REQUIRE(decoded->shares.size() == 2);
  CHECK(decoded->shares[0].connection == 7);
  CHECK(decoded->shares[0].publisher == "signaling-7");
  CHECK(decoded->shares[0].stamp == update.shares[0].stamp);
  CHECK(decoded->shares[0].series == update.shares[0].series);
  CHECK(decoded->gone == std::vector<uint64_t>{3, 4});
  CHECK(decoded->synced);
}

TEST_CASE("the heartbeat is an empty update", "[peers][wire]") {
  CHECK(encode_update({}) == "{}");
  const auto decoded = decode_update("{}");
  REQUIRE(decoded.ok());
  CHECK(decoded->shares.empty());
  CHECK(decoded->gone.empty());
  CHECK_FALSE(decoded->synced);
}

TEST_CASE("a malformed peer frame is an error, never a crash", "[peers][wire]") {
  for (const char* text : {"", "[]", "not json", R"({"pubs":{}})", R"({"pubs":[{"c":-1,"p":"","s":1,"series":[]}]})",
                           R"({"pubs":[{"c":1,"p":"","s":1,"series":[["a",{},-3]]}]})",
                           R"({"pubs":[{"c":1,"p":"","s":1,"series":[["a",{"k":1},3]]}]})",
                           R"({"pubs":[{"c":1,"p":"","s":1,"series":[["a",{}]]}]})", R"({"gone":["x"]})"}) {
    INFO(text);
    CHECK_FALSE(decode_update(text).ok());
  }
}

TEST_CASE("a snapshot is chunked and only its last frame says synced", "[peers][wire]") {
  std::vector<sessions::ConnectionShare> shares;
  for (uint64_t id = 1; id <= 5; ++id) shares.push_back(share(id, 1));
  const auto frames = snapshot_updates(shares, 2);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].shares.size() == 2);
  CHECK_FALSE(frames[0].synced);
  CHECK(frames[2].shares.size() == 1);
  CHECK(frames[2].synced);
  const auto empty = snapshot_updates({}, 2);
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].synced);
}

}  // namespace ballast::peers
