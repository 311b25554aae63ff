// SPDX-License-Identifier: MIT
// Nodes for the in-process end-to-end tests: ntmd's real control plane
// (Agent) over the in-memory data path, all on one io_context that the
// test thread drives.
#pragma once

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "agent/agent.hpp"
#include "config/node_config.hpp"
#include "datapath/memory_data_path.hpp"

namespace ntm::test {

inline wire::Endpoint endpoint(const char* text) {
  wire::Endpoint e;
  REQUIRE(common::parse_endpoint(text, e));
  return e;
}

struct TestNode {
  // config_text: what enrollment wrote; bind: the node's socket address
  // (a loopback address standing for its network); report: the local
  // endpoints it claims (a private address makes the DC see a NAT).
  TestNode(boost::asio::io_context& io, const std::string& config_text, const char* bind,
           std::vector<wire::Endpoint> report = {}, std::uint32_t wait_ms = 3000)
      : cfg(make_config(config_text, bind, std::move(report), wait_ms)),
        dp(io, cfg.listen),
        agent(io, cfg, dp) {}

  static node::NodeConfig make_config(const std::string& text, const char* bind,
                                      std::vector<wire::Endpoint> report, std::uint32_t wait_ms) {
    auto c = node::parse_node_config(text);
    c.listen = endpoint(bind);
    for (auto& r : report)
      if (r.port == 0) r.port = 0;  // filled in by the caller when it knows the port
    c.report_local = std::move(report);
    c.tunnel_wait_ms = wait_ms;
    return c;
  }

  node::NodeConfig cfg;
  node::MemoryDataPath dp;
  node::Agent agent;
};

// Runs io until pred() holds or timeout_ms passes; returns pred().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      int timeout_ms = 5000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// An IPv4/UDP packet from src to dst (host order) carrying payload, with a
// correct header checksum.
std::vector<std::uint8_t> udp_packet(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                     std::uint16_t dport, const std::string& payload);

// Resolves name through the agent, running io until the answer comes.
std::optional<node::Resolution> resolve(boost::asio::io_context& io, TestNode& n,
                                        const std::string& name, int timeout_ms = 6000);

std::uint32_t vip_of(const TestNode& n);
bool registered(const TestNode& n);

// Sends one packet each way between a and b over their path and checks
// that each arrives unchanged.
void exchange(boost::asio::io_context& io, TestNode& a, TestNode& b);

// The path to peer in n's status, if any.
std::optional<node::PathInfo> path_to(const TestNode& n, const std::string& peer);
// Runs io until n's path to peer is up; whether it is.
bool path_up(boost::asio::io_context& io, const TestNode& n, const std::string& peer,
             int timeout_ms = 5000);

}  // namespace ntm::test
