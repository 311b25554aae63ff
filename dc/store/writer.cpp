// SPDX-License-Identifier: MIT
#include "store/writer.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "store/store.hpp"

namespace ntm::dc::store {

Writer::Writer(std::string url, unsigned max_batch, std::string notify_sender,
               std::chrono::milliseconds linger, bool async_notes)
    : url_(std::move(url)),
      max_batch_(max_batch ? max_batch : 1),
      notify_sender_(std::move(notify_sender)),
      linger_(linger),
      async_notes_(async_notes),
      thread_([this] { run(); }) {}

Writer::~Writer() { stop(); }

void Writer::submit(WriteOp op, Done done) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    // The writer needs waking only for work it must not let linger; a
    // lingering writer finds the rest when its time is up.
    wake = queue_.empty() || done || queue_.size() + 1 >= max_batch_;
    if (queue_.empty()) first_at_ = std::chrono::steady_clock::now();
    if (done) ++awaited_;
    queue_.push_back({std::move(op), std::move(done)});
    ++pending_;
  }
  if (wake) cv_.notify_one();
}

void Writer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Writer::apply_batch(Store& store, std::vector<Item>& batch) {
  std::vector<const WriteOp*> ops;
  ops.reserve(batch.size());
  for (auto& it : batch) ops.push_back(&it.op);
  try {
    store.apply(ops);
    healthy_ = true;
    stats_.batches++;
    stats_.ops += batch.size();
    for (auto& it : batch)
      if (it.done) it.done(true);
    return;
  } catch (const Unavailable& e) {
    healthy_ = false;
    stats_.unavailable++;
    stats_.failed_ops += batch.size();
    spdlog::warn("store: {} ({} operations failed)", e.what(), batch.size());
    for (auto& it : batch)
      if (it.done) it.done(false);
    return;
  } catch (const std::exception& e) {
    // One bad operation aborts the whole transaction: retry one by one so
    // that only the bad one fails.
    spdlog::warn("store: batch of {} failed ({}); retrying one by one", batch.size(), e.what());
  }
  for (auto& it : batch) {
    bool ok = false;
    try {
      store.apply({&it.op});
      ok = true;
      stats_.ops++;
    } catch (const std::exception& e) {
      stats_.failed_ops++;
      spdlog::warn("store: operation failed: {}", e.what());
    }
    if (it.done) it.done(ok);
  }
}

void Writer::run() {
  Store store(url_);
  store.set_notify_sender(notify_sender_, async_notes_);
  // Flush marks are bookkeeping: without the database now, the next start
  // of any member clears what is left.
  auto forget_marks = [&store, this] {
    if (!async_notes_) return;
    try {
      store.forget_flush_marks();
    } catch (const std::exception& e) {
      spdlog::debug("store: flush marks not cleared: {}", e.what());
    }
  };
  forget_marks();
  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) {
        lock.unlock();
        forget_marks();
        return;
      }
      if (linger_.count() > 0)
        cv_.wait_until(lock, first_at_ + linger_, [this] {
          return stopping_ || awaited_ > 0 || queue_.size() >= max_batch_;
        });
      const std::size_t n = std::min<std::size_t>(queue_.size(), max_batch_);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<long>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
      for (const auto& it : batch)
        if (it.done) --awaited_;
      // What is left (a full batch went) lingers from now.
      if (!queue_.empty()) first_at_ = std::chrono::steady_clock::now();
    }
    apply_batch(store, batch);
    pending_ -= batch.size();
    batch.clear();
    if (!healthy_) {
      // Do not spin against a database that is down: fail what arrives
      // meanwhile quickly, and try again shortly.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace ntm::dc::store
