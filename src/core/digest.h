#pragma once

#include <string>
#include <string_view>

namespace ballast {

// Lowercase hex SHA-256 of `data` (64 digits). For identities that must distinguish
// secret values without showing them; a prefix of 16 digits is plenty to tell apart
// a handful of settings.
std::string sha256_hex(std::string_view data);

}  // namespace ballast
