// SPDX-License-Identifier: MIT
// The Agent's private records, shared by its .cpp files only.
#pragma once

#include <optional>

#include "agent/agent.hpp"

namespace ntm::node {

// Timers of the tunnel set-up (docs/data-plane.md §3).
inline constexpr std::uint32_t kTunnelRetryFirstMs = 200;
inline constexpr std::uint32_t kTunnelRetryMaxMs = 1000;
inline constexpr std::uint64_t kPrivateFallbackMs = 1000;  // direct_private: then the relay
inline constexpr std::uint64_t kDirectionRetryMs = 1000;   // Direction Request retransmission
inline constexpr std::uint64_t kPathKeepaliveMs = 15000;   // zero-length capsule on an idle path
inline constexpr std::uint64_t kPathIdleMs = 600000;       // nothing heard: the path is gone
inline constexpr std::uint32_t kAnswerTtl = 60;

// A name being directed, before the DC's Route Direction arrives.
struct Agent::Lookup {
  explicit Lookup(boost::asio::io_context& io) : retry(io) {}
  std::string fqdn;
  wire::PathId path;
  std::uint32_t txid = 0;
  std::uint64_t started_ms = 0;
  std::vector<ResolveDone> waiters;
  boost::asio::steady_timer retry;
};

struct Agent::Path {
  explicit Path(boost::asio::io_context& io) : retry(io) {}
  PathInfo info;
  std::optional<wire::ControlChannel> peer_chan;   // PATH: the peer, or the RS on relay_general
  std::optional<wire::ControlChannel> relay_chan;  // RELAY_PATH: the RS
  wire::Endpoint target;                           // where PATH Tunnel Requests go
  std::vector<ResolveDone> waiters;
  boost::asio::steady_timer retry;
  std::uint32_t retry_ms = kTunnelRetryFirstMs;
  std::uint32_t tunnel_txid = 0;
  std::uint64_t started_ms = 0, last_keepalive_ms = 0;
  bool peer_answered = false;  // the PATH exchange with the peer (or RS) completed
};

}  // namespace ntm::node
