// SPDX-License-Identifier: MIT
#include "nft_worker.hpp"

#include <nftables/libnftables.h>

#include <stdexcept>

namespace ntm::relay {

NftSession::NftSession() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (!ctx_) throw std::runtime_error("nft_ctx_new failed");
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

NftSession::~NftSession() {
  nft_ctx_free(ctx_);
}

bool NftSession::run(const std::string& script, std::string* out) {
  const int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
  if (out) *out = rc == 0 ? nft_ctx_get_output_buffer(ctx_) : nft_ctx_get_error_buffer(ctx_);
  return rc == 0;
}

NftWorker::NftWorker() : thread_([this] { loop(); }) {}

NftWorker::~NftWorker() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void NftWorker::submit(std::string script) {
  {
    std::lock_guard lock(m_);
    if (failure_) return;
    queue_.push_back(std::move(script));
  }
  work_.notify_one();
}

void NftWorker::wait_idle() {
  std::unique_lock lock(m_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

std::optional<std::string> NftWorker::failure() {
  std::lock_guard lock(m_);
  return failure_;
}

void NftWorker::loop() {
  std::unique_lock lock(m_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, nothing left
    std::string script = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    std::string err;
    const bool ok = session_.run(script, &err);
    lock.lock();
    busy_ = false;
    if (!ok && !failure_) {
      failure_ = err;
      queue_.clear();
    }
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace ntm::relay
