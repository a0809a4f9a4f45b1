#include "core/thread_name.h"

#include <pthread.h>

namespace ballast {

std::string fit_thread_name(std::string_view name) {
  return std::string(name.substr(0, kMaxThreadNameBytes));
}

void name_this_thread(std::string_view name) {
  (void)pthread_setname_np(pthread_self(), fit_thread_name(name).c_str());
}

}  // namespace ballast
