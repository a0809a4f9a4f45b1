#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ballast {

// Linux keeps a thread's name in 16 bytes with the terminating NUL (TASK_COMM_LEN).
inline constexpr std::size_t kMaxThreadNameBytes = 15;

// `name` cut to what the kernel keeps. Names are "<component>-<detail>" (io-0, inf-pods,
// rec-guard) so that top, /proc/<pid>/task/*/comm and bench/soak.sh can add up CPU per
// component by the part before the first '-'; the cut only ever shortens the detail.
std::string fit_thread_name(std::string_view name);

// Names the calling thread (fit_thread_name). Called first thing on every thread ballast
// starts; a failure only leaves the inherited name, so it is not reported.
void name_this_thread(std::string_view name);

}  // namespace ballast
