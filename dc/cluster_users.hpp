// SPDX-License-Identifier: MIT
// Who uses the embedded cluster now: every process that works on it (the
// serving DC, a command that started a temporary cluster, a command that
// found one running) holds a shared flock on `<state_dir>/postgres.users`
// while it does.  The one that started the server stops it only once it
// gets that lock exclusively, that is once nobody else uses it; until then
// another command's `node add` would have its connection cut halfway.
//
// A process that finds the cluster running takes its shared lock first and
// checks again: an owner that got in before it may have stopped the server
// meanwhile (it holds the exclusive lock while it stops).
#pragma once

#include <chrono>
#include <filesystem>

namespace ntm::dc {

class ClusterUsers {
 public:
  explicit ClusterUsers(const std::filesystem::path& state_dir);  // opens; throws on failure
  ~ClusterUsers();
  ClusterUsers(const ClusterUsers&) = delete;
  ClusterUsers& operator=(const ClusterUsers&) = delete;

  // Blocks until no process stops the cluster, then counts this one in.
  void join();
  void leave() noexcept;
  // The owner, before stopping the server: turns its shared lock into an
  // exclusive one, which it gets once nobody else uses the cluster; waits
  // at most `bound`.  False when others still did then (the caller stops
  // anyway: a DC told to stop must stop).
  bool wait_alone(std::chrono::milliseconds bound) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace ntm::dc
