// SPDX-License-Identifier: MIT
// The DC's control server in this test process: its real code (view,
// writer, server) on a database of the pg fixture, on a thread of its own.
// Parties are enrolled through the real enrollment code before start().
#pragma once

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::dc {
namespace control { class Server; }
namespace store { class Writer; }
namespace state { class View; }
}  // namespace ntm::dc

namespace ntm::test {

class InProcessDc {
 public:
  // url: an empty database of the pg fixture; zones: the DC's zone.
  InProcessDc(const std::string& url, const std::string& zone);
  ~InProcessDc();

  // The configuration text of a newly enrolled node or relay (as written
  // by `ntm-dc node add -o -`).  Before start().
  std::string enroll_node(const std::string& fqdn);
  std::string enroll_relay(const std::string& name);
  // `ntm-dc node rekey`: the node's new configuration text.  While stopped:
  // this DC has no change listener, so it learns of it at its next start().
  // `ntm-dc node rekey` (grace_s: `--grace`); the new config file's text.
  std::string rekey_node(const std::string& fqdn, std::uint32_t grace_s = 0);

  // Test hook: every path gets substitute addresses in both ends' views,
  // as a clash between two DCs' pools would (docs/dc.md).  Before start().
  void force_substitutes() { cfg_.vip_force_substitute = true; }
  // [timers] path_rekey_s (0: never).  Before start().
  void set_path_rekey_s(unsigned s) { cfg_.path_rekey_s = s; }
  // [timers] keepalive_s and lifetime_s (a silent party is offline after
  // lifetime_s).  Before start().
  void set_liveness(unsigned keepalive_s, unsigned lifetime_s) {
    cfg_.keepalive_s = keepalive_s;
    cfg_.lifetime_s = lifetime_s;
  }

  void start();
  void stop();
  wire::Endpoint endpoint() const { return endpoint_; }

 private:
  std::filesystem::path state_;
  dc::config::Config cfg_;
  wire::Endpoint endpoint_;
  boost::asio::io_context io_{1};
  std::unique_ptr<dc::state::View> view_;
  std::unique_ptr<dc::store::Writer> writer_;
  std::unique_ptr<dc::control::Server> server_;
  std::thread thread_;
};

}  // namespace ntm::test
