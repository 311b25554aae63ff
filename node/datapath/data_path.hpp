// SPDX-License-Identifier: MIT
// The seam between ntmd's control plane and whatever moves its packets.
//
// The control plane (agent/) decides; a DataPath carries.  It owns the one
// UDP socket of the node (docs/data-plane.md §1) and the node's side of the
// virtual network: the TUN device today (TunDataPath), the kernel module
// later, an in-memory interface in tests (MemoryDataPath).  Datagrams that
// are not Capsulated Packets (DC control, path control) go up to the
// control plane; capsules never do.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::node {

class RouteCheck;  // mobility/route_check.hpp

// How a path held in a move's blackout goes on when the data path sees the
// route back (DataPath::hold_until_route; docs/mobility.md §2, "Blackout").
struct RouteReturn {
  // The host's addresses before the blackout: a route from one of them is
  // the old link back, which the control plane tells apart.
  std::vector<wire::IpAddr> left;
  // Empty: the capsules go on to the tunnel's peer, which follows an
  // authentic capsule from a new source.  Else the relay the path goes
  // through from now (its relayed route, or the stand-by leg of a direct
  // one), and the NTM Update Request the agent sealed for it: sent there
  // first, since a relay cannot open a capsule and learns our new source
  // from the update alone.
  wire::Endpoint relay;
  std::vector<std::uint8_t> update;
};

// One tunnel as the control plane installs it.
struct TunnelConfig {
  wire::PathId path;
  std::uint8_t key_epoch = 0;
  wire::Role our_role = wire::Role::initiator;  // initiator or responder (PATH domain)
  wire::SecretKey capsule_key;                  // K_path, or the general-path key
  std::uint32_t our_vip = 0;                    // host order: the inner source we send from
  std::uint32_t peer_vip = 0;                   // host order: the peer's VIP (its inner source)
  wire::Endpoint peer;                          // where capsules go; empty until known
  // Host order: the address applications use for the peer (Route Direction
  // peer_view); 0 or peer_vip: the VIP itself.  A substitute is translated
  // to peer_vip and back (datapath/view_translation.hpp).
  std::uint32_t peer_view = 0;
};

struct TunnelCounters {
  // Data packets (inner bytes) each way; keepalives are not counted.
  std::uint64_t tx_packets = 0, tx_bytes = 0;
  std::uint64_t rx_packets = 0, rx_bytes = 0;
  std::uint64_t drops = 0;   // failed to open, spoofed inner source, no peer endpoint yet
  wire::Endpoint peer;       // the current sending endpoint
  std::uint64_t last_rx_ms = 0;  // monotonic; 0: never
  // Blackout holds the data path ended itself at a packet once the route
  // was back (DataPath::hold_until_route).
  std::uint64_t route_ends = 0;
};

// Data-path-wide drop counters (datagrams no tunnel could be blamed for).
struct DataPathCounters {
  std::uint64_t unknown_path = 0;   // capsule for a path we do not hold
  std::uint64_t no_tunnel = 0;      // packet from the interface to an address with no tunnel
  std::uint64_t bad_packet = 0;     // not IPv4, truncated, too large, wrong source
  std::uint64_t send_errors = 0;
};

class DataPath {
 public:
  // A non-capsule datagram: control traffic for the control plane.
  using ControlHandler =
      std::function<void(std::span<const std::uint8_t> datagram, const wire::Endpoint& from)>;
  // An authenticated capsule came from a new source: the peer moved (or its
  // NAT rebound), or the relay now carries the path.
  using RoamHandler = std::function<void(const wire::PathId& path, const wire::Endpoint& from)>;

  // A packet from the interface to an address with no tunnel (rate-limited
  // per address by the data path): called on the control thread, with a
  // copy of the packet.
  using MissHandler = std::function<void(std::uint32_t dst, std::vector<std::uint8_t> packet)>;

  virtual ~DataPath() = default;

  // Handlers are called on the control thread (the io_context the
  // implementation was given).
  virtual void start(ControlHandler on_control, RoamHandler on_roam) = 0;
  // Before start().
  virtual void set_miss_handler(MissHandler on_miss) = 0;
  virtual void stop() = 0;

  virtual wire::Endpoint local() const = 0;
  virtual void send_control(std::span<const std::uint8_t> datagram, const wire::Endpoint& to) = 0;

  // The VIP and virtual range of this node (after registration).
  virtual void set_address(std::uint32_t vip, std::uint8_t prefix_len) = 0;

  virtual void install(const TunnelConfig& t) = 0;  // replaces a tunnel of the same path
  virtual void set_peer(const wire::PathId& path, const wire::Endpoint& peer) = 0;
  virtual void remove(const wire::PathId& path) = 0;
  // Sends a zero-length capsule (the path keepalive: NAT bindings, liveness).
  virtual void send_keepalive(const wire::PathId& path) = 0;
  // Sends an IPv4 packet as if the interface had given it: through the
  // tunnel its destination has now.  For a packet that found no tunnel and
  // was kept while the path came back (node.md "Idle paths").  False: not
  // sent (no tunnel, a bad packet), counted as the interface's would be.
  virtual bool send_packet(std::span<const std::uint8_t> ipv4_packet) = 0;
  // Keeps what the interface sends on the path instead of sending it,
  // until release(), which sends it through the path's tunnel as it is
  // then (a re-direction may have installed a new one), in order.  For a
  // path whose peer cannot hear us until the DC has re-directed it
  // (docs/mobility.md, "Holding").  release() returns how many went.
  virtual void hold(const wire::PathId& path) = 0;
  virtual std::size_t release(const wire::PathId& path) = 0;
  // Whether a datagram to `to` could leave the host now (a route and a
  // source address exist).  In a move's blackout, between the old address
  // going and the new default route, it cannot, and the agent holds the
  // paths (docs/mobility.md §2, "Blackout").  `round` holds the lookups of
  // the agent's current round (each destination asked once).
  virtual bool routable(const wire::Endpoint& to, RouteCheck& round) const = 0;
  // hold(), for a move's blackout: the data path itself releases the path
  // at the first packet sent once a route to where it goes (the peer, or
  // r.relay) exists from a source not among r.left, without waiting for the
  // control thread's round: it sends r.update to r.relay first and moves the
  // tunnel there, if given.  A later hold(), install() or release() of the
  // path ends that wait.
  virtual void hold_until_route(const wire::PathId& path, RouteReturn r) = 0;

  virtual std::optional<TunnelCounters> counters(const wire::PathId& path) const = 0;
  virtual DataPathCounters totals() const = 0;
};

}  // namespace ntm::node
