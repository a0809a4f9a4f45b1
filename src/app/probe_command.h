#pragma once

#include <string>
#include <vector>

namespace ballast::app {

// `ballast probe`: troubleshoot one trigger against a running scaler without KEDA, as KEDA
// would call it: the metric spec, the current value and activity, and with --watch the
// StreamIsActive edges. Exit codes are kProbe* below.
int run_probe(const std::vector<std::string>& args);

// The flags of `probe`, for the CLI's usage text.
const char* probe_usage();

inline constexpr int kProbeOk = 0;           // every call answered OK (with --watch: stopped by a signal or the stream ended OK)
inline constexpr int kProbeScalerError = 1;  // the scaler answered an error (INVALID_ARGUMENT, UNAVAILABLE, ...)
inline constexpr int kProbeBadInput = 2;     // bad flags, metadata or file
inline constexpr int kProbeUnreachable = 3;  // no connection to the scaler (address, port, TLS)

}  // namespace ballast::app
