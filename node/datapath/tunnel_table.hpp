// SPDX-License-Identifier: MIT
// The packet logic every DataPath shares: the table of tunnels, sealing an
// inner IPv4 packet towards its tunnel, opening a capsule and checking what
// it carries.  No I/O and no allocation per packet; the I/O shells
// (tun_data_path, memory_data_path) hold the sockets and devices.
//
// Threads: lookups run under a shared lock held per batch (Reader), changes
// under the exclusive lock.  Each tunnel's sending half has its own mutex
// (the interface thread and the control thread's keepalives both seal);
// its receiving half is used by one receiving thread at a time.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "datapath/data_path.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/capsule.hpp"

namespace ntm::node {

struct IdHash {
  std::size_t operator()(const wire::PathId& p) const noexcept {
    std::size_t h;
    static_assert(sizeof h <= sizeof p.bytes);
    __builtin_memcpy(&h, p.bytes.data(), sizeof h);  // path IDs are random
    return h;
  }
};

class Tunnel {
 public:
  explicit Tunnel(const TunnelConfig& c);

  const wire::PathId& path() const noexcept { return path_; }
  std::uint8_t key_epoch() const noexcept { return key_epoch_; }
  std::uint32_t peer_vip() const noexcept { return peer_vip_; }
  // The peer's address in this node's view: peer_vip, or the substitute the
  // DC gave when that VIP clashes here (translated both ways).
  std::uint32_t peer_view() const noexcept { return peer_view_; }
  bool translates() const noexcept { return peer_view_ != peer_vip_; }
  std::uint32_t our_vip() const noexcept { return our_vip_; }

  // Seals frame[NTM_HDR_LEN, +len) in place; returns the datagram size and
  // the endpoint, or 0 (no peer endpoint yet, or the counter ran out).
  std::size_t seal(std::span<std::uint8_t> frame, std::size_t len, wire::Endpoint& to) noexcept;
  // Opens a capsule in place; ok fills payload (empty for a keepalive).
  wire::Error open(std::span<std::uint8_t> datagram, std::span<std::uint8_t>& payload) noexcept;

  void set_peer(const wire::Endpoint& e);
  wire::Endpoint peer() const;
  TunnelCounters counters() const;

  std::atomic<std::uint64_t> rx_packets{0}, rx_bytes{0}, drops{0}, last_rx_ms{0};
  // Blackout holds the data path ended itself (TunnelTable::end_route_waits).
  std::atomic<std::uint64_t> route_ends{0};

 private:
  wire::PathId path_;
  std::uint8_t key_epoch_;
  std::uint32_t our_vip_, peer_vip_, peer_view_;
  mutable std::mutex tx_mu_;  // sealer_, peer_, tx counters
  wire::CapsuleSealer sealer_;
  wire::Endpoint peer_;
  std::uint64_t tx_packets_ = 0, tx_bytes_ = 0;
  wire::CapsuleOpener opener_;
};

// What opening one datagram gave.
enum class Opened {
  control,    // not a capsule: hand to the control plane
  packet,     // deliver payload to the interface
  keepalive,  // authentic, empty
  dropped,    // counted
};

class TunnelTable {
 public:
  // A tunnel for a path that has one already under another key epoch (the
  // DC re-directed the path after a move) becomes the current one; the old
  // one is kept for opening only, so that what the peer sealed before it
  // heard of the new epoch still arrives (docs/mobility.md).
  void install(const TunnelConfig& c);
  void remove(const wire::PathId& p);
  bool set_peer(const wire::PathId& p, const wire::Endpoint& e);
  std::shared_ptr<Tunnel> find(const wire::PathId& p) const;
  void set_address(std::uint32_t vip) { our_vip_.store(vip); }

  // Holds the shared lock for one batch of packets.
  class Reader {
   public:
    explicit Reader(const TunnelTable& t) : t_(t), lock_(t.mu_) {}
    // An inner IPv4 packet from the interface at frame[NTM_HDR_LEN, +len):
    // seals it; returns the datagram size and destination, or 0 (counted).
    // A packet of a path being held (TunnelTable::hold) is kept and 0
    // returned, unless `held` says it is one of the kept ones going out.
    std::size_t seal_outgoing(std::span<std::uint8_t> frame, std::size_t len,
                              wire::Endpoint& to, bool held = false) const noexcept;
    // A datagram from the socket.  On packet, payload views the inner packet
    // in place.  roamed is set when an authentic capsule came from a new
    // source (the tunnel's peer is then already switched to it).
    Opened open_incoming(std::span<std::uint8_t> datagram, const wire::Endpoint& from,
                         std::span<std::uint8_t>& payload, bool& roamed,
                         wire::PathId& path) const noexcept;

   private:
    const TunnelTable& t_;
    std::shared_lock<std::shared_mutex> lock_;
  };

  DataPathCounters totals() const;

  // Holding (docs/mobility.md §2, "Holding"): after a move, a path whose
  // peer must send first (its NAT filters our new address) cannot carry
  // anything until the DC has re-directed it.  What the interface sends on
  // it meanwhile is kept (at most kMaxHeld packets; later ones are dropped
  // and counted on the tunnel) instead of being sent into the peer's NAT,
  // and goes out, in order, when the path answers again.
  static constexpr std::size_t kMaxHeld = 256;
  // And at most this many over all paths: a node with many busy paths that
  // loses its route (a move's blackout holds every path) keeps at most
  // ~8 MB.
  static constexpr std::size_t kMaxHeldTotal = 4096;
  void hold(const wire::PathId& p);
  bool holding(const wire::PathId& p) const;
  // Stops holding p: seals each kept packet, oldest first, through the
  // tunnel its destination has now (Reader::seal_outgoing) and hands the
  // datagram to send(datagram, to).  Packets the interface gives while this
  // runs are kept and sent after those, so the order stays.  Returns how
  // many were sealed and handed over.
  template <class F>
  std::size_t release(const wire::PathId& p, F&& send);

  // A blackout hold (docs/mobility.md §2, "Blackout") the data path may
  // end by itself: hold(p), and when a packet is kept on p once a datagram
  // to the tunnel's peer would leave from a source not among `left` (the
  // host's addresses before the blackout: the new network is configured),
  // release it there and then, instead of at the control thread's move
  // round, a millisecond or more later.  Only for a path whose peer
  // follows an authentic capsule from a new source (a direct route to a
  // peer that does not send first): the NTM Update may come after the
  // data.  The wait ends without a release on hold() (a hold for the
  // peer: the control plane's to end), install() of a new tunnel for p (a
  // re-direction), release() and remove().
  // With r.relay: the route looked up is the relay's; when it is back the
  // tunnel's peer becomes r.relay and r.update goes there before the kept
  // packets (DataPath::hold_until_route).
  void hold_until_route(const wire::PathId& p, RouteReturn r);
  // A packet was kept on such a path since the last check, and that check
  // is kRouteCheckEveryUs old: the interface thread calls end_route_waits
  // after its batch (a route lookup costs tens of us; a busy sender's
  // packets must not each pay it).
  static constexpr std::uint64_t kRouteCheckEveryUs = 200;
  bool route_check_due() const noexcept;
  // source(to) -> std::optional<wire::IpAddr>: the address a datagram to
  // `to` would leave from now, nothing without a route (route_source).
  // Releases, as release() does, each waiting path whose way out is back;
  // returns how many packets went.  Not under a Reader.
  template <class Source, class F>
  std::size_t end_route_waits(Source&& source, F&& send);

  // One IPv4 packet that did not come from the interface's read loop (a
  // kept one, a test's): copied into frame at NTM_HDR_LEN and sealed as
  // Reader::seal_outgoing does; 0 if refused (counted).
  using Frame = std::array<std::uint8_t, NTM_HDR_LEN + NTM_MAX_INNER + NTM_TAG_LEN>;
  std::size_t seal_packet(std::span<const std::uint8_t> pkt, Frame& frame, wire::Endpoint& to,
                          bool held = false) const;

  mutable std::atomic<std::uint64_t> unknown_path{0}, no_tunnel{0}, bad_packet{0},
      send_errors{0};

  // Called on the interface's thread for a packet to an address with no
  // tunnel (the control plane may bring a path to it back: node.md, "Idle
  // paths"); at most once per kMissEveryMs for one address, so a flood to
  // it costs the control thread nothing, and at most kMissesPerSecond in
  // all, so a sweep of the virtual range does not either.  Set before the
  // threads start.
  static constexpr std::uint64_t kMissEveryMs = 100;
  static constexpr std::uint64_t kMissesPerSecond = 64;
  // The packet is the one that found no tunnel (valid during the call).
  using MissHook = std::function<void(std::uint32_t dst, std::span<const std::uint8_t> packet)>;
  void set_miss_hook(MissHook h) { on_miss_ = std::move(h); }

 private:
  void missed(std::uint32_t dst, std::span<const std::uint8_t> packet) const noexcept;
  MissHook on_miss_;
  mutable std::atomic<std::uint32_t> miss_dst_{0};
  mutable std::atomic<std::uint64_t> miss_ms_{0};
  mutable std::atomic<std::uint64_t> miss_second_{0}, misses_in_second_{0};

  // Keeps the packet if p is held.
  enum class Kept { no, kept, full };
  Kept keep_if_held(const wire::PathId& p, std::span<const std::uint8_t> pkt) const;
  mutable std::mutex hold_mu_;
  mutable std::unordered_map<wire::PathId, std::deque<std::vector<std::uint8_t>>, IdHash> held_;
  mutable std::atomic<bool> any_held_{false};
  mutable std::size_t held_total_ = 0;  // packets in held_, under hold_mu_
  // Paths of held_ the data path may release itself, with the addresses the
  // host had before (hold_until_route); under hold_mu_.
  std::unordered_map<wire::PathId, RouteReturn, IdHash> route_wait_;
  mutable std::atomic<bool> route_due_{false};
  std::atomic<std::uint64_t> route_checked_us_{0};

  mutable std::shared_mutex mu_;
  std::unordered_map<wire::PathId, std::shared_ptr<Tunnel>, IdHash> by_path_;
  std::unordered_map<wire::PathId, std::shared_ptr<Tunnel>, IdHash> previous_;  // receive only
  std::unordered_map<std::uint32_t, std::shared_ptr<Tunnel>> by_vip_;  // by peer_view()
  std::atomic<std::uint32_t> our_vip_{0};
};

template <class F>
std::size_t TunnelTable::release(const wire::PathId& p, F&& send) {
  std::size_t n = 0;
  Frame frame;
  for (;;) {
    std::deque<std::vector<std::uint8_t>> batch;
    {
      std::lock_guard lock(hold_mu_);
      auto it = held_.find(p);
      route_wait_.erase(p);
      if (it == held_.end()) return n;
      if (it->second.empty()) {
        held_.erase(it);
        any_held_.store(!held_.empty(), std::memory_order_relaxed);
        return n;
      }
      held_total_ -= it->second.size();
      batch.swap(it->second);
    }
    for (const auto& pkt : batch) {
      wire::Endpoint to;
      const std::size_t len = seal_packet(pkt, frame, to, /*held=*/true);
      if (len == 0) continue;  // counted by seal_outgoing
      send(std::span<const std::uint8_t>(frame.data(), len), to);
      ++n;
    }
  }
}

template <class Source, class F>
std::size_t TunnelTable::end_route_waits(Source&& source, F&& send) {
  route_due_.store(false, std::memory_order_relaxed);
  route_checked_us_.store(common::mono_us(), std::memory_order_relaxed);
  std::vector<std::pair<wire::PathId, RouteReturn>> waits;
  {
    std::lock_guard lock(hold_mu_);
    waits.assign(route_wait_.begin(), route_wait_.end());
  }
  std::size_t n = 0;
  for (const auto& [p, r] : waits) {
    auto t = find(p);
    if (!t) continue;
    const wire::Endpoint to = r.relay.empty() ? t->peer() : r.relay;
    // The route lookup runs under no lock: the control thread may end the
    // wait meanwhile (its round, a hold for the peer), and then decides.
    const std::optional<wire::IpAddr> from = source(to);
    if (!from || std::find(r.left.begin(), r.left.end(), *from) != r.left.end()) continue;
    {
      std::lock_guard lock(hold_mu_);
      if (route_wait_.erase(p) == 0) continue;
    }
    if (!r.relay.empty()) {
      // The relay first learns where we are now, then carries the capsules.
      t->set_peer(r.relay);
      if (!r.update.empty()) send(std::span<const std::uint8_t>(r.update), r.relay);
    }
    t->route_ends.fetch_add(1, std::memory_order_relaxed);
    n += release(p, send);
  }
  return n;
}

// The inner packet's addresses (host order); false unless it is a whole
// IPv4 packet (version 4, header length and total length consistent).
bool ipv4_addresses(std::span<const std::uint8_t> pkt, std::uint32_t& src,
                    std::uint32_t& dst) noexcept;

}  // namespace ntm::node
