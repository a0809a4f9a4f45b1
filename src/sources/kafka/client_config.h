#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace ballast::kafka {

using ClientSettings = std::vector<std::pair<std::string, std::string>>;

// librdkafka settings for the client that reads one cluster's offsets: high watermarks as
// KEDA reads them (read_uncommitted), reconnects capped at 1 s so recovery is seen within a
// poll or two, and the auth profile's SASL and TLS. `profile` may be null (no auth).
// Reads the profile's password file, so call it off request threads.
Result<ClientSettings> client_settings(const std::vector<std::string>& bootstrap_servers,
                                       const std::string& profile_name, const AuthProfile* profile);

}  // namespace ballast::kafka
