// SPDX-License-Identifier: MIT
// ntm-rs's logic (DC link, path table, forwarder) on a thread of this test
// process, on loopback, without translation (that needs a TUN: testbed).
#pragma once

#include <atomic>
#include <mutex>
#include <memory>
#include <string>
#include <thread>

#include "config.hpp"
#include "ntm/wire/types.hpp"
#include "stats.hpp"

namespace ntm::test {

class InProcessRelay {
 public:
  // config_text: what `relay add` wrote; bind: a loopback address.
  InProcessRelay(const std::string& config_text, const char* bind);
  ~InProcessRelay();
  void start();
  void stop();
  bool registered() const { return registered_; }
  wire::Endpoint endpoint() const { return cfg_.advertise; }
  relay::Drops drops() const;
  std::size_t paths() const { return paths_; }

 private:
  void loop();
  relay::Config cfg_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, registered_{false};
  std::atomic<std::size_t> paths_{0};
  mutable std::mutex mu_;
  relay::Drops drops_;
};

}  // namespace ntm::test
