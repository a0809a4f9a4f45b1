#pragma once

#include <map>
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

// The first librdkafka release whose SASL/SCRAM logs in to current Kafka brokers: before
// it the client-final message repeats the client nonce (librdkafka#4895), which Kafka
// refuses since it checks the nonce exactly.
constexpr int kScramFixedLibrdkafka = 0x020601ff;

// Start-up check of the auth profiles against the linked librdkafka (`version` as
// rd_kafka_version() gives it): a SCRAM profile with a librdkafka before 2.6.1 is refused,
// naming the version and the way out, instead of failing every poll at run time.
Status check_auth_profiles(const std::map<std::string, AuthProfile>& profiles, int version);
// The same against the librdkafka this process runs with.
Status check_auth_profiles(const std::map<std::string, AuthProfile>& profiles);

}  // namespace ballast::kafka
