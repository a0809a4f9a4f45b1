#include "core/file.h"

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
