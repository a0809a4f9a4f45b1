#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "kube/kube_api.h"

namespace ballast::kube {

// The apiserver's answers as text → values, apart from the HTTP client so the fuzz
// targets (fuzz/kube_list, fuzz/kube_watch) drive exactly what KubeClient runs. The
// apiserver is trusted to be the apiserver, not to be well-formed: nothing here throws.

// A response body as JSON: kIo naming `what` when it is not JSON or nests too deep.
Result<nlohmann::json> parse_api_body(std::string_view body, const std::string& what);

// One page of a list answer.
struct ListPage {
  std::vector<nlohmann::json> items;  // kind and apiVersion filled in: a list's items carry none
  std::string resource_version;       // metadata.resourceVersion
  std::string continue_token;         // metadata.continue; empty on the last page
};

// kIo naming `what` and the key when the page is not a JSON object, `metadata` is not an
// object, `metadata.continue`/`metadata.resourceVersion` are not strings, or an item is
// not an object.
Result<ListPage> decode_list_page(std::string_view body, const Resource& resource, const std::string& what);

// A watch body, fed in the pieces the network delivers: splits it into lines and hands
// each event to `on_event`. Stops (consume() returns false) at the first line that is not
// an event (not JSON, no string `type`, an `object` that is not an object) or an ERROR
// event (410 → kExpired); error() then says why.
class WatchLineReader {
 public:
  WatchLineReader(std::string what, KubeApi::EventCallback on_event)
      : what_(std::move(what)), on_event_(std::move(on_event)) {}

  bool consume(std::string_view piece);
  const std::optional<Error>& error() const { return error_; }

 private:
  bool handle_line(std::string_view line);

  const std::string what_;
  const KubeApi::EventCallback on_event_;
  std::string pending_;  // the start of a line whose newline has not arrived yet
  std::optional<Error> error_;
};

// The error an apiserver response means: the `Status` body's message when there is one.
Error api_error(int http_status, const std::string& body, const std::string& what);

}  // namespace ballast::kube
