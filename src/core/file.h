#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace ballast {

// Every file ballast is pointed at (config, policy, token files, certificates, secrets)
// goes through these. A directory is refused by name: a ConfigMap or Secret mount path
// given instead of a file inside it opens fine and reads as empty (or, for yaml-cpp,
// throws), which used to abort the process or silently run the built-in policy.

// Ok when `path` names an existing, readable regular file (symlinks followed, as
// Kubernetes' projected volumes need); else kIo saying what it is instead, or
// kUnavailable when the process is out of file descriptors (EMFILE/ENFILE) right now.
Status check_regular_file(const std::string& path);

// The file's bytes, with the same refusals as check_regular_file; a file larger than
// `max_bytes` is refused (kInvalidArgument) before it is read.
Result<std::string> read_regular_file(const std::string& path, uintmax_t max_bytes = UINTMAX_MAX);

}  // namespace ballast
