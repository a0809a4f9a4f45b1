#include "core/file.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "fakes/shell.h"

using namespace ballast;

TEST_CASE("only regular files are read; a directory is named as one", "[file]") {
  testing::TempDir dir;
  const std::string file = dir.write("tokens", "secret\n");
  std::filesystem::create_directory(dir.path + "/mount");
  std::filesystem::create_symlink(file, dir.path + "/link");

  struct Row {
    std::string path;
    const char* error;  // nullptr: readable
  };
  const Row rows[] = {
      {file, nullptr},
      {dir.path + "/link", nullptr},  // projected volumes are symlinks
      {dir.path + "/mount", "is a directory"},
      {dir.path + "/missing", "does not exist"},
      {file + "/inside", "cannot read"},  // a file on the way is no missing file (ENOTDIR)
      {"/dev/null", "not a regular file"},
  };
  for (const auto& row : rows) {
    INFO(row.path);
    const auto checked = check_regular_file(row.path);
    const auto read = read_regular_file(row.path);
    CHECK(checked.ok() == (row.error == nullptr));
    CHECK(read.ok() == (row.error == nullptr));
    if (row.error == nullptr) {
      CHECK(*read == "secret\n");
    } else {
      CHECK(checked.error().code == ErrorCode::kIo);
      CHECK_THAT(read.error().message, Catch::Contains(row.error));
    }
  }
}

TEST_CASE("a file over the caller's size limit is refused before it is read", "[file]") {
  testing::TempDir dir;
  const std::string file = dir.write("big.yaml", std::string(2000, 'a'));
  CHECK(read_regular_file(file, 2000).ok());
  const auto refused = read_regular_file(file, 1999);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(refused.error().message, Catch::Contains("2000 bytes, over the limit of 1999"));
}

TEST_CASE("out of file descriptors is kUnavailable (try again), not a bad file", "[file]") {
  testing::TempDir dir;
  const std::string file = dir.write("tls.crt", "pem");
  // In a child: lowering its descriptor limit must not touch the test process.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const rlimit few{64, 64};
    if (setrlimit(RLIMIT_NOFILE, &few) != 0) _exit(2);
    const int any = open("/dev/null", O_RDONLY);
    while (dup(any) >= 0) {
    }  // every descriptor the limit allows is taken
    const auto read = read_regular_file(file);
    _exit(!read.ok() && read.error().code == ErrorCode::kUnavailable ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
