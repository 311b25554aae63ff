// SPDX-License-Identifier: MIT
// Helpers for the pg test tier: a fresh database per test case on the
// throwaway cluster that the ctest fixture starts (tests/pg/pg_cluster.sh),
// found through NTM_TEST_PG_URL.  Without that variable, pg test cases print
// why they are skipped and pass; CI always sets it.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace ntm::test {

// Environment variable holding the libpq URL of the cluster's admin database.
inline constexpr const char* kPgUrlVariable = "NTM_TEST_PG_URL";

// The admin URL, or "" when NTM_TEST_PG_URL is unset or empty.
std::string admin_url();

// `url` with its database replaced by `database` (libpq lets a later dbname
// query parameter override the path's).
std::string with_database(const std::string& url, const std::string& database);

// A uniquely named, empty database that lives as long as this object; dropped
// (WITH (FORCE), so leftover sessions do not block it) on destruction.
class TestDatabase {
 public:
  TestDatabase();  // throws std::runtime_error without NTM_TEST_PG_URL
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& url() const noexcept { return url_; }

 private:
  std::string admin_;
  std::string name_;
  std::string url_;
};

// Runs argv (argv[0] an absolute path or found on PATH) without a shell and
// returns its stdout; stderr goes to the test's stderr.  *status gets the exit
// code (128 + signal when killed).
std::string run_capture(const std::vector<std::string>& argv, int* status);

}  // namespace ntm::test

// First statement of every test case that needs the fixture's cluster.
#define NTM_REQUIRE_PG_OR_SKIP()                                                        \
  do {                                                                                  \
    if (::ntm::test::admin_url().empty()) {                                             \
      MESSAGE(                                                                          \
          "skipped: NTM_TEST_PG_URL is not set (run through ctest, whose ntm_pg "       \
          "fixture starts a throwaway cluster, or point it at an admin database URL)"); \
      return;                                                                           \
    }                                                                                   \
  } while (false)
