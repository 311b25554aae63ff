// SPDX-License-Identifier: MIT
// Group commit: write operations from the DC's I/O thread are queued and
// applied by one writer thread, as many per transaction as are waiting (up
// to a limit).  Each operation's completion runs only after the commit that
// contains it, so an acknowledgement never precedes durability; under load
// one fsync covers many acknowledgements.
//
// Writes that nobody waits for (a path's state, liveness, a zone serial)
// linger up to `linger` before their transaction starts, unless a write
// that someone waits for arrives or the batch is full: at thousands of
// directions a second that turns thousands of tiny transactions into tens
// of larger ones, and a path written twice in quick succession (directing,
// then established) into one row.  A waited-for write never lingers: it
// takes the lingering ones along in its own transaction, in queue order.
#pragma once

#include <atomic>
#include <chrono>
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
  // linger: how long writes without a Done may wait for company (0: none).
  // async_notes: a member of a DC cluster; see Store::set_notify_sender.
  Writer(std::string url, unsigned max_batch, std::string notify_sender = {},
         std::chrono::milliseconds linger = std::chrono::milliseconds(0),
         bool async_notes = false);
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
  std::chrono::milliseconds linger_;
  bool async_notes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;  // guarded by mu_
  std::size_t awaited_ = 0;  // guarded by mu_: items of queue_ with a Done
  std::chrono::steady_clock::time_point first_at_;  // guarded by mu_: queue_[0]'s arrival
  bool stopping_ = false;    // guarded by mu_
  std::atomic<bool> healthy_{true};
  std::atomic<std::size_t> pending_{0};
  WriterStats stats_;
  std::thread thread_;
};

}  // namespace ntm::dc::store
