// SPDX-License-Identifier: MIT
// A real ntm-rs process for the relay tests: its config is the text
// `ntm-dc relay add` printed plus an [rs] section; started with `run`,
// ready when it prints its ready line; stopped with SIGTERM.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ntm/common/udp_socket.hpp"

namespace ntm::test {

class RsProcess {
 public:
  RsProcess(const std::string& relay_conf, const std::string& rs_section);
  ~RsProcess();  // SIGKILLs a running process, removes its directory

  void start(int ready_timeout_ms = 15000);  // throws if not ready in time (0: no wait)
  int stop();                                // SIGTERM, wait; the exit status
  std::string log() const;
  bool wait_log(const std::string& text, int timeout_ms, std::size_t from = 0) const;
  // `ntm-rs -c CONF status [--json]`'s stdout.
  std::string status(bool json, int* exit_status = nullptr);
  const std::filesystem::path& config_path() const noexcept { return config_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  std::filesystem::path dir_, config_;
  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;
};

// The next datagram on s within timeout_ms, or nothing: the tests' side of
// talking to an ntm-rs process.
std::optional<std::vector<std::uint8_t>> receive_within(common::UdpSocket& s, int timeout_ms);

}  // namespace ntm::test
