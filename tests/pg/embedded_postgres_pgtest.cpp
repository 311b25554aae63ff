// SPDX-License-Identifier: MIT
// store::EmbeddedPostgres: a private cluster in a scratch directory under
// /tmp.  Needs the PostgreSQL server binaries but not the fixture's cluster.
// Every test stops its server and removes its directory, also on failure.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <thread>

#include "store/embedded_postgres.hpp"

namespace fs = std::filesystem;
using ntm::dc::store::EmbeddedPostgres;

namespace {

// Tests may relax durability: nothing here survives the test.  fsync=off
// still survives a killed server (WAL reaches the kernel at commit); keep
// synchronous_commit on, whose async commits a SIGKILL test would lose.
EmbeddedPostgres::Options fast_options() {
  EmbeddedPostgres::Options o;
  o.settings = {{"fsync", "off"}};
  o.sync_initdb = false;
  o.timeout = std::chrono::seconds(30);
  return o;
}

// A directory under /tmp that is torn down whatever the test did: a server
// still running in it is stopped first.
class ScratchDir {
 public:
  ScratchDir() {
    char name[] = "/tmp/ntm-embedded-pg.XXXXXX";
    if (mkdtemp(name) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = name;
  }
  ~ScratchDir() {
    try {
      EmbeddedPostgres(path_, 1, fast_options()).stop();
    } catch (const std::exception& e) {
      MESSAGE("scratch cleanup: stop failed: " << e.what());
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string query1(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<std::string>();
}

bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("embedded PostgreSQL: start, connect, stop, start again keeps the data") {
  ScratchDir scratch;
  // Durable defaults here: the configuration ntm-dc really runs with.
  EmbeddedPostgres pg(scratch.path(), 0);
  pg.start();
  CHECK(pg.running());
  CHECK(pg.url().find("host=" + scratch.path().string()) != std::string::npos);
  CHECK(query1(pg.url(), "SELECT current_database()") == "ntm");
  // Unix socket only, durable.
  CHECK(query1(pg.url(), "SHOW listen_addresses").empty());
  CHECK(query1(pg.url(), "SHOW fsync") == "on");
  CHECK(query1(pg.url(), "SHOW port") == std::to_string(pg.port()));
  CHECK(fs::is_socket(scratch.path() / (".s.PGSQL." + std::to_string(pg.port()))));

  struct stat st {};
  REQUIRE(stat(scratch.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  if (geteuid() == 0) CHECK(st.st_uid != 0);  // handed to the postgres user

  {
    pqxx::connection conn(pg.url());
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE kept (x integer)");
    tx.exec0("INSERT INTO kept VALUES (42)");
    tx.commit();
  }
  pg.stop();
  CHECK_FALSE(pg.running());
  CHECK_THROWS(pqxx::connection(pg.url()));

  pg.start();
  CHECK(pg.running());
  CHECK(query1(pg.url(), "SELECT x FROM kept") == "42");
  pg.stop();
  CHECK_FALSE(pg.running());
}

TEST_CASE("embedded PostgreSQL: restarts after the postmaster was killed with SIGKILL") {
  ScratchDir scratch;
  EmbeddedPostgres pg(scratch.path(), 0, fast_options());
  pg.start();
  {
    pqxx::connection conn(pg.url());
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE kept AS SELECT 7 AS x");
    tx.commit();
  }
  const auto pid = pg.postmaster_pid();
  REQUIRE(pid.has_value());
  REQUIRE(kill(*pid, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return !pg.running(); }, std::chrono::seconds(10)));
  // The crash left postmaster.pid behind (and possibly a zombie or orphaned
  // backends); start() must cope.
  CHECK(fs::exists(pg.data_dir() / "postmaster.pid"));

  pg.start();
  CHECK(pg.running());
  CHECK(pg.postmaster_pid() != pid);
  CHECK(query1(pg.url(), "SELECT x FROM kept") == "7");
  pg.stop();
}

TEST_CASE("embedded PostgreSQL: takes over a server left running by a crashed ntm-dc") {
  ScratchDir scratch;
  // The child plays an ntm-dc that started the cluster and died without
  // stopping it: its directory lock goes with it, the postmaster stays.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      EmbeddedPostgres crashed(scratch.path(), 0, fast_options());
      crashed.start();
      std::_Exit(0);
    } catch (...) {
      std::_Exit(1);
    }
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  EmbeddedPostgres pg(scratch.path(), 0, fast_options());
  REQUIRE(pg.running());  // the leftover server
  const auto old_pid = pg.postmaster_pid();
  pg.start();
  CHECK(pg.running());
  CHECK(pg.postmaster_pid() != old_pid);
  // Restarted with this object's settings: its port names the socket.
  CHECK(query1(pg.url(), "SHOW port") == std::to_string(pg.port()));
  pg.stop();
  CHECK_FALSE(pg.running());
}

TEST_CASE("embedded PostgreSQL: a second instance on the same directory is refused") {
  ScratchDir scratch;
  EmbeddedPostgres first(scratch.path(), 0, fast_options());
  first.start();
  EmbeddedPostgres second(scratch.path(), 0, fast_options());
  try {
    second.start();
    FAIL("second instance started");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("in use by another ntm-dc") != std::string::npos);
  }
  CHECK(first.running());
  first.stop();
}

TEST_CASE("embedded PostgreSQL: rejects paths it cannot use") {
  CHECK_THROWS_AS(EmbeddedPostgres("/tmp/quote'dir", 0), std::invalid_argument);
  CHECK_THROWS_AS(EmbeddedPostgres("/tmp/" + std::string(120, 'x'), 0), std::invalid_argument);
  CHECK_THROWS_AS(EmbeddedPostgres("/tmp/x", 70000), std::invalid_argument);
  EmbeddedPostgres::Options bad;
  bad.settings = {{"fsync; DROP", "off"}};
  CHECK_THROWS_AS(EmbeddedPostgres("/tmp/x", 0, bad), std::invalid_argument);
}

TEST_CASE("embedded PostgreSQL: a directory the postgres user cannot reach gives a hint") {
  if (geteuid() != 0) {
    MESSAGE("skipped: only meaningful as root (the server then runs as postgres)");
    return;
  }
  ScratchDir scratch;  // mode 0700, owned by root: postgres cannot enter it
  EmbeddedPostgres pg(scratch.path() / "pg", 0, fast_options());
  try {
    pg.start();
    FAIL("start succeeded below a directory postgres cannot enter");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("must be able to enter every parent") != std::string::npos);
  }
  CHECK_FALSE(pg.running());
}
