// parse_alert_payload(): Alertmanager's webhook payload (version 4) → the requests its
// firing alerts make; AlertRequestQueue: one request per firing (fingerprint + startsAt).
#include "nodepool/alert_requests.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace ballast::nodepool;
using json = nlohmann::json;

namespace {

json alert(const std::string& status, const json& labels, const std::string& fingerprint = "3f2a",
           const std::string& starts_at = "2026-12-07T01:00:00Z") {
  return {{"status", status}, {"labels", labels}, {"annotations", json::object()}, {"startsAt", starts_at},
          {"endsAt", "0001-01-01T00:00:00Z"}, {"generatorURL", "http://prometheus/graph"},
          {"fingerprint", fingerprint}};
}

json payload(const std::vector<json>& alerts) {
  return {{"version", "4"}, {"groupKey", "{}:{alertname=\"ClusterCapacityHigh\"}"}, {"truncatedAlerts", 0},
          {"status", "firing"}, {"receiver", "ballast"}, {"groupLabels", json::object()},
          {"commonLabels", json::object()}, {"commonAnnotations", json::object()},
          {"externalURL", "http://alertmanager:9093"}, {"alerts", json(alerts)}};
}

const json kScaleUp = {{"alertname", "ClusterCapacityHigh"}, {"ballast_nodegroup", "general"},
                       {"ballast_action", "scale_up"}};

std::string describe(const std::vector<AlertRequest>& requests) {
  std::string out;
  for (const auto& r : requests) {
    out += (out.empty() ? "" : "; ") + r.group + (r.direction == ScaleDirection::kUp ? " up " : " down ") +
           r.source();
  }
  return out;
}

}  // namespace

TEST_CASE("an Alertmanager payload asks groups for nodes through its firing, labelled alerts", "[alerts]") {
  struct Case {
    const char* name;
    std::string body;
    std::string requests;  // described, when accepted
    std::string error;     // the error, when refused
  };
  const json scale_down = {{"alertname", "ClusterIdle"}, {"ballast_nodegroup", "general"},
                           {"ballast_action", "scale_down"}};
  const std::vector<Case> cases = {
      {"a firing scale_up alert", payload({alert("firing", kScaleUp)}).dump(),
       "general up alert ClusterCapacityHigh (fingerprint 3f2a, since 2026-12-07T01:00:00Z)", ""},
      {"a firing scale_down alert", payload({alert("firing", scale_down, "9c1d")}).dump(),
       "general down alert ClusterIdle (fingerprint 9c1d, since 2026-12-07T01:00:00Z)", ""},
      {"resolved alerts and alerts without the labels ask nothing",
       payload({alert("resolved", kScaleUp), alert("firing", {{"alertname", "Watchdog"}})}).dump(), "", ""},
      {"no alerts", payload({}).dump(), "", ""},
      {"not JSON", "{\"version\": \"4\", ", "", "alert payload: not JSON"},
      {"too deeply nested", std::string(200, '[') + std::string(200, ']'), "",
       "alert payload nests deeper than 128 levels (the limit)"},
      {"not an object", "[]", "", "alert payload: must be a JSON object"},
      {"another version", [] { json p = payload({}); p["version"] = "3"; return p.dump(); }(), "",
       "version: \"3\" is not 4 (Alertmanager's webhook payload)"},
      {"no version", [] { json p = payload({}); p.erase("version"); return p.dump(); }(), "",
       "version: \"\" is not 4 (Alertmanager's webhook payload)"},
      {"alerts not an array", [] { json p = payload({}); p["alerts"] = "x"; return p.dump(); }(), "",
       "alerts: must be an array"},
      {"an alert that is not an object", payload({alert("firing", kScaleUp), 7}).dump(), "",
       "alerts[1]: must be an object"},
      {"an unknown status", payload({alert("pending", kScaleUp)}).dump(), "",
       "alerts[0].status: \"pending\" is not firing or resolved"},
      {"labels not an object", payload({alert("firing", json::array())}).dump(), "",
       "alerts[0].labels: must be an object"},
      {"a label that is not a string", payload({alert("firing", {{"ballast_nodegroup", 3}})}).dump(), "",
       "alerts[0].labels.ballast_nodegroup: must be a string"},
      {"an unknown action", payload({alert("firing", {{"ballast_nodegroup", "general"}, {"ballast_action", "up"}})}).dump(),
       "", "alerts[0].labels.ballast_action: \"up\" is not scale_up or scale_down"},
      {"an action without a group", payload({alert("firing", {{"ballast_action", "scale_up"}})}).dump(), "",
       "alerts[0].labels.ballast_nodegroup: required with ballast_action"},
      {"a group without an action", payload({alert("firing", {{"ballast_nodegroup", "general"}})}).dump(), "",
       "alerts[0].labels.ballast_action: \"\" is not scale_up or scale_down"},
      {"a firing request without a fingerprint", payload({alert("firing", kScaleUp, "")}).dump(), "",
       "alerts[0].fingerprint: required"},
      {"a firing request without startsAt", payload({alert("firing", kScaleUp, "3f2a", "")}).dump(), "",
       "alerts[0].startsAt: required"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto parsed = parse_alert_payload(c.body);
      if (c.error.empty()) {
        REQUIRE(parsed);
        CHECK(describe(*parsed) == c.requests);
      } else {
        REQUIRE_FALSE(parsed);
        CHECK(parsed.error().message == c.error);
      }
    }
  }
}

TEST_CASE("Alertmanager's re-sends of a firing alert are one request; a new firing is another", "[alerts]") {
  AlertRequestQueue queue;
  auto requests = [](const std::vector<json>& alerts) { return *parse_alert_payload(payload(alerts).dump()); };
  CHECK(queue.add(requests({alert("firing", kScaleUp)})) == 1);
  CHECK(queue.add(requests({alert("firing", kScaleUp)})) == 0);  // repeat_interval
  auto taken = queue.take();
  REQUIRE(taken.count("general") == 1);
  CHECK(taken["general"].size() == 1);
  CHECK(queue.take().empty());
  CHECK(queue.add(requests({alert("firing", kScaleUp)})) == 0);  // still the same firing after the pass
  CHECK(queue.add(requests({alert("firing", kScaleUp, "3f2a", "2026-12-07T02:00:00Z")})) == 1);  // fired again
  CHECK(queue.take()["general"].front().source ==
        "alert ClusterCapacityHigh (fingerprint 3f2a, since 2026-12-07T02:00:00Z)");
}

TEST_CASE("the queue forgets the oldest firings beyond kRemembered", "[alerts]") {
  AlertRequestQueue queue;
  auto one = [](size_t i) {
    AlertRequest r;
    r.group = "general";
    r.fingerprint = std::to_string(i);
    r.starts_at = "t";
    return std::vector<AlertRequest>{r};
  };
  for (size_t i = 0; i <= AlertRequestQueue::kRemembered; ++i) CHECK(queue.add(one(i)) == 1);
  CHECK(queue.add(one(AlertRequestQueue::kRemembered)) == 0);
  CHECK(queue.add(one(0)) == 1);  // forgotten: the oldest went when the limit was passed
}
