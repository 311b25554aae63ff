// SPDX-License-Identifier: MIT
// The reviewed snapshot schema/schema.sql must equal the schema that the
// migrations produce.  On a mismatch the test prints a unified diff; after an
// intended change, run schema/update-snapshot.sh and review the result.
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "pg_test_db.hpp"
#include "store/migrate.hpp"

namespace {

const std::string kSchemaDir = NTM_SOURCE_DIR "/schema";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// schema.sql is a header of "--" comment lines and blank lines followed by
// the normalised dump (which has neither comment lines nor leading blanks).
std::string without_header(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  bool in_header = true;
  while (std::getline(in, line)) {
    if (in_header && (line.empty() || line.rfind("--", 0) == 0)) continue;
    in_header = false;
    out += line + "\n";
  }
  return out;
}

std::string diff(const std::string& expected, const std::string& actual) {
  char dir_template[] = "/tmp/ntm-snapshot.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return "(mkdtemp failed; no diff)";
  const std::string a = std::string(dir) + "/schema.sql";
  const std::string b = std::string(dir) + "/migrated.sql";
  std::ofstream(a) << expected;
  std::ofstream(b) << actual;
  int status = 0;
  std::string text = ntm::test::run_capture({"diff", "-u", a, b}, &status);
  std::remove(a.c_str());
  std::remove(b.c_str());
  std::remove(dir);
  return text;
}

}  // namespace

TEST_CASE("schema/schema.sql matches the replayed migrations") {
  NTM_REQUIRE_PG_OR_SKIP();
  ntm::test::TestDatabase db;
  {
    pqxx::connection conn(db.url());
    ntm::dc::store::migrate(conn);
  }
  int status = -1;
  const std::string dumped =
      ntm::test::run_capture({kSchemaDir + "/dump-schema.sh", db.url()}, &status);
  REQUIRE_MESSAGE(status == 0, "schema/dump-schema.sh failed with status ", status);
  REQUIRE(!dumped.empty());

  const std::string snapshot = without_header(read_file(kSchemaDir + "/schema.sql"));
  if (snapshot != dumped) {
    FAIL_CHECK(
        "schema/schema.sql differs from the schema the migrations produce "
        "(run schema/update-snapshot.sh and review):\n"
        << diff(snapshot, dumped));
  }
}
