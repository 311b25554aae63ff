// SPDX-License-Identifier: MIT
// libnftables for ntm-rs's kernel forwarding: a session (one nft context),
// and a worker thread that applies scripts in order, so that the relay's
// loop never waits for a transaction (0.7-1 ms each, growing with the table:
// libnftables reads its cache on every command).  While a change is on its
// way, datagrams the kernel does not carry yet reach the socket, which
// already knows the change.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

struct nft_ctx;

namespace ntm::relay {

class NftSession {
 public:
  NftSession();  // throws std::runtime_error
  ~NftSession();
  NftSession(const NftSession&) = delete;
  NftSession& operator=(const NftSession&) = delete;
  // Runs a script as one transaction.  On success *out (if given) gets
  // nft's output, on failure its error message.
  bool run(const std::string& script, std::string* out = nullptr);

 private:
  nft_ctx* ctx_ = nullptr;
};

class NftWorker {
 public:
  NftWorker();   // throws std::runtime_error (no nft context)
  ~NftWorker();  // applies what is queued, then stops
  NftWorker(const NftWorker&) = delete;
  NftWorker& operator=(const NftWorker&) = delete;

  void submit(std::string script);
  // Blocks until every script submitted so far has been applied.
  void wait_idle();
  // The first script that failed, with nft's message; the worker drops
  // everything after it (the caller switches kernel forwarding off).
  std::optional<std::string> failure();

 private:
  void loop();
  NftSession session_;
  std::mutex m_;
  std::condition_variable work_, idle_;
  std::deque<std::string> queue_;
  bool busy_ = false, stop_ = false;
  std::optional<std::string> failure_;
  std::thread thread_;
};

}  // namespace ntm::relay
