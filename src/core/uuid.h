#pragma once

#include <string>

namespace ballast {

// A random RFC 4122 version 4 UUID, lowercase: request ids for providers and the names
// derived from them.
std::string make_uuid();

}  // namespace ballast
