// SPDX-License-Identifier: MIT
// `ntm-rs status [--json]`: the daemon answers on a unix stream socket
// ([rs] status_socket).  A client writes "json\n" or "text\n" and reads the
// answer until the daemon closes the connection.
#pragma once

#include <filesystem>
#include <string>

#include "config.hpp"
#include "dc_link.hpp"
#include "relay_path.hpp"
#include "stats.hpp"

namespace ntm::relay {

// kernel_forward: whether kernel forwarding is on (kernel_forward.hpp).
std::string render_status(const Config& cfg, const DcLink& dc, const PathTable& paths,
                          const Drops& drops, bool json, bool kernel_forward = false);

// The daemon's side: a listening socket (the old one, left by a crash,
// replaced), and one request answered per accepted connection.
class StatusServer {
 public:
  explicit StatusServer(const std::filesystem::path& path);  // throws std::system_error
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;
  int fd() const noexcept { return fd_; }
  // Accepts one connection and answers it with render(json).
  template <class Render>
  void serve_one(Render&& render) {
    bool json = false;
    const int c = accept_request(json);
    if (c < 0) return;
    answer(c, render(json));
  }

 private:
  int accept_request(bool& json);
  void answer(int c, const std::string& text);
  std::filesystem::path path_;
  int fd_ = -1;
};

// The client's side; returns the exit code (0 ok, 1 no daemon).
int query_status(const std::filesystem::path& socket, bool json);

}  // namespace ntm::relay
