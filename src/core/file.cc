#include "core/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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

// The open file's descriptor, closed when this goes out of scope. POSIX open() rather than a
// stream: only its errno is reliable (a stream's may be overwritten before we read it, as
// under AddressSanitizer).
class OpenFile {
 public:
  explicit OpenFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), error_(errno) {}
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }
  int error() const { return error_; }

 private:
  const int fd_;
  const int error_;
};

}  // namespace

Status check_regular_file(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  // Only a missing file is "does not exist": a directory on the way that the process may not
  // search (a root-only mount read as a non-root user) or that is a file says what it is.
  if (error && error != std::errc::no_such_file_or_directory) return open_failure(path, error.value());
  if (!std::filesystem::exists(status)) return io_error("\"" + path + "\" does not exist");
  if (std::filesystem::is_directory(status)) {
    return io_error("\"" + path + "\" is a directory, not a file (name a file inside it)");
  }
  if (!std::filesystem::is_regular_file(status)) return io_error("\"" + path + "\" is not a regular file");
  if (const OpenFile file(path); file.fd() < 0) return open_failure(path, file.error());
  return Ok{};
}

Result<std::string> read_regular_file(const std::string& path, uintmax_t max_bytes) {
  if (auto checked = check_regular_file(path); !checked) return checked.error();
  std::error_code error;
  if (const auto size = std::filesystem::file_size(path, error); !error && size > max_bytes) {
    return invalid_argument("\"" + path + "\" is " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(max_bytes));
  }
  const OpenFile file(path);
  if (file.fd() < 0) return open_failure(path, file.error());
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(file.fd(), buffer, sizeof(buffer));
    if (n > 0) {
      text.append(buffer, static_cast<size_t>(n));
      if (text.size() > max_bytes) break;  // grew while being read: the size check below refuses it
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      return io_error("cannot read \"" + path + "\": " + std::strerror(errno));
    }
  }
  if (text.size() > max_bytes) {
    return invalid_argument("\"" + path + "\" is over the limit of " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

}  // namespace ballast
