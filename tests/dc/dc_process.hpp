// SPDX-License-Identifier: MIT
// A real ntm-dc process for integration tests: writes its config (a test
// database from the pg fixture, a free loopback port, a temporary state
// directory), starts `ntm-dc serve`, waits for its ready line, and stops or
// kills it.  Enrollment goes through the real CLI.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node_client.hpp"

namespace ntm::test {
using sim::Credentials;
using sim::NodeClient;
using sim::parse_credentials;
}  // namespace ntm::test

namespace ntm::test {

class DcProcess {
 public:
  struct Options {
    Options(std::string url = {}) : database_url(std::move(url)) {}  // NOLINT: implicit on purpose
    std::string database_url;  // empty: the embedded default
    std::string zones = "test.example";
    unsigned keepalive_s = 15;
    unsigned lifetime_s = 60;
    unsigned direction_timeout_ms = 3000;
    std::string timers_extra;  // more [timers] lines
    std::string extra;  // more INI lines, appended
    std::string dc_id;  // 32 hex digits; empty: a random one (cluster members share one)
  };

  explicit DcProcess(Options o);
  ~DcProcess();  // SIGKILLs a running process, removes the state directory

  void start();                 // throws if not ready within 30 s
  int stop();                   // SIGTERM, wait; returns the exit status
  void kill9();                 // SIGKILL, wait
  bool running() const noexcept { return pid_ > 0; }

  wire::Endpoint endpoint() const { return endpoint_; }
  // Members of this DC's cluster ([dc] cluster), this one included;
  // rewrites the configuration (before start()).
  void set_cluster(const std::vector<wire::Endpoint>& members);
  const std::filesystem::path& config_path() const noexcept { return config_; }
  const std::filesystem::path& state_dir() const noexcept { return state_; }

  // Runs `ntm-dc -c CONFIG args...`; returns stdout, sets *status.
  std::string cli(const std::vector<std::string>& args, int* status = nullptr);
  Credentials enroll(const std::string& name, bool relay = false);

  // Everything the process wrote to stderr so far.
  std::string log() const;
  // Waits until the log contains text (after the given offset).
  bool wait_log(const std::string& text, int timeout_ms, std::size_t from = 0) const;

 private:
  void write_config();
  Options opt_;
  std::string cluster_;
  std::filesystem::path state_;
  std::filesystem::path config_;
  wire::Endpoint endpoint_;
  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;
};

// A free UDP port on 127.0.0.1 below the ephemeral range (bound and released;
// dc_process.cpp says why not port 0).
unsigned free_udp_port();

}  // namespace ntm::test
