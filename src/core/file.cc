#include "core/file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace ballast {
namespace {

// Out of descriptors is the process's state, not the file's: kUnavailable, so a caller
// that polls (the certificate reloader) retries instead of calling the file bad.
Error open_failure(const std::string& path, int error) {
  if (error == EMFILE || error == ENFILE) {
    return unavailable("cannot open \"" + path + "\" now: " + std::strerror(error));
  }
  return io_error("cannot read \"" + path + "\"" + (error != 0 ? std::string(": ") + std::strerror(error) : ""));
}

}  // namespace

Status check_regular_file(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) return io_error("\"" + path + "\" does not exist");
  if (std::filesystem::is_directory(status)) {
    return io_error("\"" + path + "\" is a directory, not a file (name a file inside it)");
  }
  if (!std::filesystem::is_regular_file(status)) return io_error("\"" + path + "\" is not a regular file");
  errno = 0;
  if (!std::ifstream(path).good()) return open_failure(path, errno);
  return Ok{};
}

Result<std::string> read_regular_file(const std::string& path, uintmax_t max_bytes) {
  if (auto checked = check_regular_file(path); !checked) return checked.error();
  std::error_code error;
  if (const auto size = std::filesystem::file_size(path, error); !error && size > max_bytes) {
    return invalid_argument("\"" + path + "\" is " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(max_bytes));
  }
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  if (!file) return open_failure(path, errno);
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) return io_error("cannot read \"" + path + "\"");
  return text;
}

}  // namespace ballast
