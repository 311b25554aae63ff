// SPDX-License-Identifier: MIT
// Group commit: write operations from the DC's I/O thread are queued and
// applied by one writer thread, as many per transaction as are waiting (up
// to a limit).  Each operation's completion runs only after the commit that
// contains it, so an acknowledgement never precedes durability; under load
// one fsync covers many acknowledgements.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/records.hpp"

namespace ntm::dc::store {

class Store;

struct WriterStats {
  std::atomic<std::uint64_t> ops{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> failed_ops{0};
  std::atomic<std::uint64_t> unavailable{0};
};

class Writer {
 public:
  // Called on the writer thread with true after the commit, false if the
  // operation failed; the callee posts to its own thread.
  using Done = std::function<void(bool ok)>;

  // notify_sender: this process's token (change_note.hpp); non-empty makes
  // every transaction notify the rows it changed to the other DC processes.
  Writer(std::string url, unsigned max_batch, std::string notify_sender = {});
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void submit(WriteOp op, Done done);
  // Applies what is queued, then stops the thread.
  void stop();
  // Operations queued or being applied (for draining at shutdown).
  std::size_t pending() const noexcept { return pending_.load(); }
  // Whether the last attempt reached the database.
  bool healthy() const noexcept { return healthy_.load(); }
  const WriterStats& stats() const noexcept { return stats_; }

 private:
  struct Item {
    WriteOp op;
    Done done;
  };
  void run();
  void apply_batch(Store& store, std::vector<Item>& batch);

  std::string url_;
  unsigned max_batch_;
  std::string notify_sender_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::atomic<bool> healthy_{true};
  std::atomic<std::size_t> pending_{0};
  WriterStats stats_;
  std::thread thread_;
};

}  // namespace ntm::dc::store
