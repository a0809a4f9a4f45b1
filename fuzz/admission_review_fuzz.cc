// The webhook's whole request path on an untrusted body: AdmissionReview decode, then the
// mutating decision (defaulting + JSON diff into a patch) and the validating decision, and
// the encoded response. Anyone who reaches the webhook port can send this.
#include <cstddef>
#include <cstdint>

#include "admission/review_handler.h"
#include "fuzz_input.h"
#include "policy/tier_policy.h"

namespace {

const ballast::policy::TierPolicy& built_in_policy() {
  static const ballast::policy::TierPolicy built_in = ballast::policy::default_policy();
  return built_in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  net::HttpRequest request;
  request.method = "POST";
  request.headers["content-type"] = "application/json";
  request.body = std::string(fuzz::as_text(data, size));
  for (const char* path : {"/mutate", "/validate"}) {
    request.target = path;
    (void)admission::handle_request(request, built_in_policy());
  }
  return 0;
}
