#pragma once

// Helpers for tests that run `ballast serve` as a child process on loopback: free ports,
// a bare HTTP GET, readiness polling and a child that is always reaped.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ballast::testing {

// A free loopback port: bound, read back and released for the child to take.
inline uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// A plain HTTP/1.0 GET; empty when nothing listens.
inline std::string http_get(uint16_t port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

// How many times slower than natively the children run: BALLAST_TEST_SLOWDOWN (a whole number,
// default 1), set by bench/memcheck.sh, where every child runs under valgrind (20-50x slower).
inline int child_slowdown() {
  const char* value = std::getenv("BALLAST_TEST_SLOWDOWN");
  const int factor = value == nullptr ? 1 : std::atoi(value);
  return factor < 1 ? 1 : factor;
}

// Polls /readyz of a child `serve` until it answers 200, for at most `limit` (times the
// children's slowdown).
inline bool becomes_ready(uint16_t admin_port, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit * child_slowdown();
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_get(admin_port, "/readyz").find(" 200 ") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// The text of a file a child writes (empty while there is none).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Whether `text` shows up in the file after the first `after` (anywhere when empty), within
// `limit` (times the children's slowdown).
inline bool file_shows(const std::string& path, const std::string& text, std::chrono::milliseconds limit,
                       const std::string& after = "") {
  const auto deadline = std::chrono::steady_clock::now() + limit * child_slowdown();
  while (std::chrono::steady_clock::now() < deadline) {
    const auto content = read_text(path);
    const auto from = after.empty() ? 0 : content.find(after);
    if (from != std::string::npos && content.find(text, from) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// The names of a running process's threads (/proc/<pid>/task/*/comm).
inline std::multiset<std::string> thread_names(pid_t pid) {
  std::multiset<std::string> names;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    names.insert(name);
  }
  return names;
}

// Whether the threads of a running process come to satisfy `named` within `limit` (times the
// children's slowdown): a thread just started may not have named itself yet.
inline bool threads_become(pid_t pid, const std::function<bool(const std::multiset<std::string>&)>& named,
                           std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit * child_slowdown();
  while (!named(thread_names(pid))) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// `binary` run with `args` in a child; killed (SIGKILL; under a slowdown SIGTERM first) and
// reaped at scope end unless wait() reaped it first.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::string& binary, const std::vector<std::string>& args) { start(binary, args); }
  ~ChildProcess() { kill_and_reap(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void start(const std::string& binary, const std::vector<std::string>& args) {
    kill_and_reap();
    std::vector<std::string> argv_storage = args;
    argv_storage.insert(argv_storage.begin(), binary);
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& arg : argv_storage) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  bool signal(int number) const { return pid_ > 0 && ::kill(pid_, number) == 0; }
  // The exit status as waitpid reports it.
  int wait() {
    int status = 0;
    if (pid_ > 0) waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  void kill_and_reap() {
    if (pid_ <= 0) return;
    if (child_slowdown() > 1 && ::kill(pid_, SIGTERM) == 0) {
      // Under valgrind: a clean exit first, so the child's leak summary is written.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3) * child_slowdown();
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace ballast::testing
