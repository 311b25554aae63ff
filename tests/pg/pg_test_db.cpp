// SPDX-License-Identifier: MIT
#include "pg_test_db.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace ntm::test {

namespace {

// Database names are identifiers and cannot be bound as parameters; the name
// is generated from [a-z0-9_] only and quoted with quote_name on top.
constexpr const char* kCreateDatabasePrefix = "CREATE DATABASE ";
constexpr const char* kDropDatabasePrefix = "DROP DATABASE IF EXISTS ";
constexpr const char* kDropDatabaseSuffix = " WITH (FORCE)";

std::string unique_name() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  const unsigned salt = rd() & 0xffffffu;
  return "ntm_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(salt);
}

}  // namespace

std::string admin_url() {
  const char* v = std::getenv(kPgUrlVariable);
  return v ? std::string(v) : std::string();
}

std::string with_database(const std::string& url, const std::string& database) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "dbname=" + database;
}

TestDatabase::TestDatabase() : admin_(admin_url()), name_(unique_name()) {
  if (admin_.empty()) throw std::runtime_error("TestDatabase: NTM_TEST_PG_URL is not set");
  pqxx::connection conn(admin_);
  pqxx::nontransaction tx(conn, "ntm_test_create_database");
  tx.exec0(kCreateDatabasePrefix + tx.quote_name(name_));
  url_ = with_database(admin_, name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(admin_);
    pqxx::nontransaction tx(conn, "ntm_test_drop_database");
    tx.exec0(kDropDatabasePrefix + tx.quote_name(name_) + kDropDatabaseSuffix);
  } catch (const std::exception& e) {
    MESSAGE("could not drop test database " << name_ << ": " << e.what());
  }
}

std::string run_capture(const std::vector<std::string>& argv, int* status) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int out = memfd_create("ntm-test-capture", MFD_CLOEXEC);
  if (out < 0) throw std::system_error(errno, std::generic_category(), "memfd_create");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    close(out);
    throw std::system_error(rc, std::generic_category(), "spawn " + args[0]);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::string text;
  lseek(out, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = read(out, buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  close(out);
  return text;
}

}  // namespace ntm::test
