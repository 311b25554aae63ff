// SPDX-License-Identifier: MIT
// The Agent's private records, shared by its .cpp files only.
#pragma once

#include <optional>

#include "agent/agent.hpp"

namespace ntm::node {

// The channel towards the DC under the node's key (agent.cpp): made at
// start and again when the key is replaced (registration.cpp).
wire::ChannelConfig dc_channel_config(const NodeConfig& c);

// Timers of the tunnel set-up (docs/data-plane.md §3).
inline constexpr std::uint32_t kTunnelRetryFirstMs = 200;
inline constexpr std::uint32_t kTunnelRetryMaxMs = 1000;
inline constexpr std::uint64_t kPrivateFallbackMs = 1000;  // direct_private: then the relay
inline constexpr std::uint64_t kDirectionRetryMs = 1000;   // Direction Request retransmission
inline constexpr std::uint64_t kPathKeepaliveMs = 15000;   // zero-length capsule on an idle path
inline constexpr std::uint64_t kPathSilentMs = 600000;     // nothing heard: the path is gone
// A stand-by relay leg is refreshed with every path keepalive; silent for
// two refreshes and a bit (one lost datagram is forgiven), it counts as
// down: an RS that restarted forgets the path and drops the refreshes, and
// a move must not switch onto it (docs/mobility.md, "Stand-by relay").
inline constexpr std::uint64_t kRelayLegSilentMs = 2 * kPathKeepaliveMs + 2000;
inline constexpr std::uint32_t kAnswerTtl = 60;
// DC cluster: a member that leaves a registration, keepalive or Direction
// Request unanswered this long is taken for dead (docs/node.md "DC cluster").
inline constexpr std::uint64_t kDcFailoverMs = 3000;

// Timers of a move (docs/mobility.md §4).
// 0: a round starts once the event loop has taken the rtnetlink messages
// already read (one batch is one round), not after a wait.  A wait of 2 ms
// added 1.6-2.5 ms to the rows that need the DC (benchmarks.md, issue 6);
// a round started before the route exists is followed by the route's own.
inline constexpr std::uint32_t kMoveSettleMs = 0;
inline constexpr std::uint32_t kUpdateRetryFirstMs = 50;   // a few RTTs of a far peer
inline constexpr std::uint32_t kUpdateRetryMaxMs = 1000;
inline constexpr unsigned kUpdateSendsBeforeRedirect = 3;  // ~150 ms unanswered: ask the DC
inline constexpr std::uint64_t kUpdateGiveUpMs = 10000;
inline constexpr std::uint64_t kDeadPathMs = 3000;          // sending, nothing back: probe
inline constexpr std::uint64_t kDeadRedirectEveryMs = 30000;
// Holding a path whose peer must send first (docs/mobility.md, "Holding"):
// the DC's re-direction takes a few ms; past this, what is kept goes out
// anyway (as it would have without holding), and later packets are not kept.
inline constexpr std::uint64_t kHoldMaxMs = 200;
// Holding a path for want of a route (docs/mobility.md, "Blackout"): long
// enough for a Wi-Fi association and a DHCP exchange (1-3 s), short enough
// that what is kept is still worth delivering.  Past it, what is kept goes
// out (or fails to) as it would have without holding.
inline constexpr std::uint64_t kBlackoutHoldMaxMs = 3000;
// The link came back and the host still has the address it had before:
// the same network (an access point roam: the address stays right) or a
// new one whose address comes within a few ms (a tool configuring it) or
// much later (DHCP; the old address goes first).  Sending at once from the
// old address into a new network loses what was kept; waiting this long
// costs a roam within one network as much.
inline constexpr std::uint32_t kBlackoutSameAddressMs = 20;
// A move whose every path goes on by its NTM Update registers this much
// later (docs/mobility.md §4): long enough for the first packets on the new
// address, short against the DC's view of where we are.
inline constexpr std::uint32_t kMoveRegisterDeferMs = 20;
inline constexpr double kUpdateBurst = 10;                  // peer's updates: token bucket
inline constexpr double kUpdatePerSecond = 5;
// The DC named the peer to send first: its NAT filters what we send from
// an address it has not sent to, so after our move nothing of ours reaches
// it until the DC has re-directed the path (the peer then sends first
// again, to our new address).  Such a path is held (docs/mobility.md,
// "Holding").
inline bool peer_sends_first(const PathInfo& i) {
  if (i.route != wire::RouteType::direct && i.route != wire::RouteType::direct_private)
    return false;
  if (i.via_relay) return false;
  return i.end == wire::PathEnd::initiator ? i.first == wire::FirstSender::responder
                                           : i.first == wire::FirstSender::initiator;
}

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
  explicit Path(boost::asio::io_context& io) : retry(io), update_timer(io) {}
  PathInfo info;
  std::optional<wire::ControlChannel> peer_chan;   // PATH: the peer, or the RS on relay_general
  std::optional<wire::ControlChannel> relay_chan;  // RELAY_PATH: the RS
  wire::Endpoint target;                           // where PATH Tunnel Requests go
  // The keys the DC sealed for this epoch: a Route Direction of the same
  // epoch is a retransmission only if it carries them (direction.cpp).
  wire::SecretKey path_key, relay_key;
  std::vector<ResolveDone> waiters;
  boost::asio::steady_timer retry;
  std::uint32_t retry_ms = kTunnelRetryFirstMs;
  std::uint32_t tunnel_txid = 0;
  std::uint64_t started_ms = 0, last_keepalive_ms = 0;
  bool peer_answered = false;  // the PATH exchange with the peer (or RS) completed
  std::uint64_t relay_answered_ms = 0;  // the RS's last answer on the RELAY_PATH leg (0: never)

  // NTM Update, ours (update_seq is in info.moves) and the peer's.
  boost::asio::steady_timer update_timer;
  bool update_pending = false;
  bool update_may_redirect = true;
  unsigned update_sends = 0;
  std::uint32_t update_retry_ms = kUpdateRetryFirstMs;
  std::uint64_t update_started_ms = 0;  // the move (not the first send) that began the round
  std::uint32_t peer_update_seq = 0;    // highest accepted from the peer
  double update_tokens = kUpdateBurst;
  std::uint64_t tokens_ms = 0;
  // Liveness: an answered update counts as traffic back.
  std::uint64_t last_alive_ms = 0, last_tx_packets = 0, last_probe_ms = 0, last_dead_redirect_ms = 0;
  // Idle paths (release.cpp): the data counters at the last change, and when.
  std::uint64_t idle_tx = 0, idle_rx = 0, data_ms = 0;
};

}  // namespace ntm::node
