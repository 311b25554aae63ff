// SPDX-License-Identifier: MIT
#include "datapath/tunnel_table.hpp"

#include <cstring>

#include "datapath/view_translation.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/header.hpp"

namespace ntm::node {

namespace {

wire::Role peer_of(wire::Role r) {
  return r == wire::Role::initiator ? wire::Role::responder : wire::Role::initiator;
}

std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

}  // namespace

bool ipv4_addresses(std::span<const std::uint8_t> pkt, std::uint32_t& src,
                    std::uint32_t& dst) noexcept {
  if (pkt.size() < 20 || (pkt[0] >> 4) != 4) return false;
  const std::size_t ihl = (pkt[0] & 0x0f) * 4u;
  const std::size_t total = (std::size_t{pkt[2]} << 8) | pkt[3];
  if (ihl < 20 || total < ihl || total > pkt.size()) return false;
  src = load_be32(pkt.data() + 12);
  dst = load_be32(pkt.data() + 16);
  return true;
}

Tunnel::Tunnel(const TunnelConfig& c)
    : path_(c.path),
      key_epoch_(c.key_epoch),
      our_vip_(c.our_vip),
      peer_vip_(c.peer_vip),
      peer_view_(c.peer_view ? c.peer_view : c.peer_vip),
      sealer_(c.capsule_key, c.our_role, c.path, c.key_epoch),
      peer_(c.peer),
      opener_(c.capsule_key, peer_of(c.our_role), c.path, c.key_epoch) {}

std::size_t Tunnel::seal(std::span<std::uint8_t> frame, std::size_t len,
                         wire::Endpoint& to) noexcept {
  std::lock_guard lock(tx_mu_);
  if (peer_.empty()) return 0;
  wire::Error err = wire::Error::ok;
  const std::size_t n = sealer_.seal(frame, len, err);
  if (n == 0) return 0;
  to = peer_;
  // Data only, as on the receiving side: a keepalive (len 0) is not
  // traffic, and an idle path is one whose counters stand still.
  if (len > 0) {
    ++tx_packets_;
    tx_bytes_ += len;
  }
  return n;
}

wire::Error Tunnel::open(std::span<std::uint8_t> datagram,
                         std::span<std::uint8_t>& payload) noexcept {
  return opener_.open(datagram, payload);
}

void Tunnel::set_peer(const wire::Endpoint& e) {
  std::lock_guard lock(tx_mu_);
  peer_ = e;
}

wire::Endpoint Tunnel::peer() const {
  std::lock_guard lock(tx_mu_);
  return peer_;
}

TunnelCounters Tunnel::counters() const {
  TunnelCounters c;
  {
    std::lock_guard lock(tx_mu_);
    c.tx_packets = tx_packets_;
    c.tx_bytes = tx_bytes_;
    c.peer = peer_;
  }
  c.rx_packets = rx_packets.load();
  c.route_ends = route_ends.load();
  c.rx_bytes = rx_bytes.load();
  c.drops = drops.load();
  c.last_rx_ms = last_rx_ms.load();
  return c;
}

void TunnelTable::install(const TunnelConfig& c) {
  auto t = std::make_shared<Tunnel>(c);
  {
    // A re-direction: whether what is kept may go, the control plane says.
    std::lock_guard hold(hold_mu_);
    route_wait_.erase(c.path);
  }
  std::unique_lock lock(mu_);
  previous_.erase(c.path);
  if (auto it = by_path_.find(c.path); it != by_path_.end()) {
    if (it->second->key_epoch() != c.key_epoch) previous_[c.path] = it->second;
    by_vip_.erase(it->second->peer_view());
    by_path_.erase(it);
  }
  // One tunnel per peer address: a newer path to the same address takes over.
  if (auto it = by_vip_.find(t->peer_view()); it != by_vip_.end())
    by_path_.erase(it->second->path());
  by_vip_[t->peer_view()] = t;
  by_path_[c.path] = std::move(t);
}

void TunnelTable::remove(const wire::PathId& p) {
  {
    std::lock_guard hold(hold_mu_);
    route_wait_.erase(p);
    if (auto h = held_.find(p); h != held_.end()) {
      held_total_ -= h->second.size();
      held_.erase(h);
      any_held_.store(!held_.empty(), std::memory_order_relaxed);
    }
  }
  std::unique_lock lock(mu_);
  previous_.erase(p);
  auto it = by_path_.find(p);
  if (it == by_path_.end()) return;
  if (auto v = by_vip_.find(it->second->peer_view()); v != by_vip_.end() && v->second == it->second)
    by_vip_.erase(v);
  by_path_.erase(it);
}

bool TunnelTable::set_peer(const wire::PathId& p, const wire::Endpoint& e) {
  auto t = find(p);
  if (!t) return false;
  t->set_peer(e);
  return true;
}

std::shared_ptr<Tunnel> TunnelTable::find(const wire::PathId& p) const {
  std::shared_lock lock(mu_);
  auto it = by_path_.find(p);
  return it == by_path_.end() ? nullptr : it->second;
}

std::size_t TunnelTable::seal_packet(std::span<const std::uint8_t> pkt, Frame& frame,
                                     wire::Endpoint& to, bool held) const {
  if (pkt.size() > NTM_MAX_INNER) {
    bad_packet.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  std::memcpy(frame.data() + NTM_HDR_LEN, pkt.data(), pkt.size());
  Reader reader(*this);
  return reader.seal_outgoing(frame, pkt.size(), to, held);
}

void TunnelTable::missed(std::uint32_t dst, std::span<const std::uint8_t> packet) const noexcept {
  if (!on_miss_) return;
  const std::uint64_t now = common::mono_ms();
  if (miss_dst_.load(std::memory_order_relaxed) == dst &&
      now - miss_ms_.load(std::memory_order_relaxed) < kMissEveryMs)
    return;
  if (miss_second_.load(std::memory_order_relaxed) != now / 1000) {
    miss_second_.store(now / 1000, std::memory_order_relaxed);
    misses_in_second_.store(0, std::memory_order_relaxed);
  }
  if (misses_in_second_.fetch_add(1, std::memory_order_relaxed) >= kMissesPerSecond) return;
  miss_dst_.store(dst, std::memory_order_relaxed);
  miss_ms_.store(now, std::memory_order_relaxed);
  try {
    on_miss_(dst, packet);
  } catch (const std::exception&) {
    // Out of memory for the posted call: this packet's miss is lost; the
    // next one after kMissEveryMs tries again.
  }
}

DataPathCounters TunnelTable::totals() const {
  return DataPathCounters{unknown_path.load(), no_tunnel.load(), bad_packet.load(),
                          send_errors.load()};
}

void TunnelTable::hold(const wire::PathId& p) {
  std::lock_guard lock(hold_mu_);
  held_.try_emplace(p);
  route_wait_.erase(p);  // held for the peer: the control plane ends it
  any_held_.store(true, std::memory_order_relaxed);
}

void TunnelTable::hold_until_route(const wire::PathId& p, RouteReturn r) {
  std::lock_guard lock(hold_mu_);
  held_.try_emplace(p);
  route_wait_[p] = std::move(r);
  any_held_.store(true, std::memory_order_relaxed);
}

bool TunnelTable::route_check_due() const noexcept {
  return route_due_.load(std::memory_order_relaxed) &&
         common::mono_us() - route_checked_us_.load(std::memory_order_relaxed) >= kRouteCheckEveryUs;
}

bool TunnelTable::holding(const wire::PathId& p) const {
  std::lock_guard lock(hold_mu_);
  return held_.count(p) != 0;
}

TunnelTable::Kept TunnelTable::keep_if_held(const wire::PathId& p,
                                            std::span<const std::uint8_t> pkt) const {
  // release() re-seals into a frame of NTM_MAX_INNER: anything larger
  // (never, from the interface's reads) goes its usual way.
  if (pkt.size() > NTM_MAX_INNER) return Kept::no;
  std::lock_guard lock(hold_mu_);
  auto it = held_.find(p);
  if (it == held_.end()) return Kept::no;
  if (it->second.size() >= kMaxHeld || held_total_ >= kMaxHeldTotal) return Kept::full;
  it->second.emplace_back(pkt.begin(), pkt.end());
  ++held_total_;
  if (!route_wait_.empty() && route_wait_.count(p)) route_due_.store(true, std::memory_order_relaxed);
  return Kept::kept;
}

std::size_t TunnelTable::Reader::seal_outgoing(std::span<std::uint8_t> frame, std::size_t len,
                                               wire::Endpoint& to, bool held) const noexcept {
  std::uint32_t src = 0, dst = 0;
  if (frame.size() < NTM_HDR_LEN + len ||
      !ipv4_addresses(frame.subspan(NTM_HDR_LEN, len), src, dst)) {
    t_.bad_packet.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  auto it = t_.by_vip_.find(dst);
  if (it == t_.by_vip_.end()) {
    t_.no_tunnel.fetch_add(1, std::memory_order_relaxed);
    t_.missed(dst, frame.subspan(NTM_HDR_LEN, len));
    return 0;
  }
  Tunnel& tun = *it->second;
  // Only the node's own VIP may be the source of what enters a tunnel.
  if (src != tun.our_vip()) {
    t_.bad_packet.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  // Kept as the interface gave it (before the translation below, which
  // runs when it goes out).  Only the interface thread and release() get
  // here; an allocation failure drops the packet like any full queue.
  if (!held && t_.any_held_.load(std::memory_order_relaxed)) {
    try {
      switch (t_.keep_if_held(tun.path(), frame.subspan(NTM_HDR_LEN, len))) {
        case Kept::no: break;
        case Kept::kept: return 0;
        case Kept::full: tun.drops.fetch_add(1, std::memory_order_relaxed); return 0;
      }
    } catch (const std::exception&) {
      tun.drops.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
  }
  // The peer's substitute in our view becomes its VIP on the wire.
  if (tun.translates() &&
      !translate_address(frame.subspan(NTM_HDR_LEN, len), false, tun.peer_vip())) {
    t_.bad_packet.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  const std::size_t n = tun.seal(frame, len, to);
  if (n == 0) tun.drops.fetch_add(1, std::memory_order_relaxed);
  return n;
}

Opened TunnelTable::Reader::open_incoming(std::span<std::uint8_t> datagram,
                                          const wire::Endpoint& from,
                                          std::span<std::uint8_t>& payload, bool& roamed,
                                          wire::PathId& path) const noexcept {
  roamed = false;
  wire::Header h;
  if (wire::peek_header(datagram, h) != wire::Error::ok) {
    t_.bad_packet.fetch_add(1, std::memory_order_relaxed);
    return Opened::dropped;
  }
  if (h.type != wire::MsgType::capsulated_packet) return Opened::control;
  std::copy(h.id.begin(), h.id.end(), path.bytes.begin());
  auto it = t_.by_path_.find(path);
  if (it == t_.by_path_.end()) {
    t_.unknown_path.fetch_add(1, std::memory_order_relaxed);
    return Opened::dropped;
  }
  Tunnel* found = it->second.get();
  if (h.key_epoch != found->key_epoch()) {
    // The peer still seals under the epoch before a re-direction.
    auto prev = t_.previous_.find(path);
    if (prev == t_.previous_.end() || prev->second->key_epoch() != h.key_epoch) {
      found->drops.fetch_add(1, std::memory_order_relaxed);
      return Opened::dropped;
    }
    found = prev->second.get();
  }
  // Counters and liveness belong to the path (the current tunnel).
  Tunnel& cur = *it->second;
  if (found->open(datagram, payload) != wire::Error::ok) {
    cur.drops.fetch_add(1, std::memory_order_relaxed);
    return Opened::dropped;
  }
  cur.last_rx_ms.store(common::mono_ms(), std::memory_order_relaxed);
  if (!payload.empty()) {
    // The peer may only send from its own VIP, to ours.
    std::uint32_t src = 0, dst = 0;
    if (!ipv4_addresses(payload, src, dst) || src != cur.peer_vip() || dst != cur.our_vip()) {
      cur.drops.fetch_add(1, std::memory_order_relaxed);
      return Opened::dropped;
    }
    // Checked above on the real VIP; our applications see the substitute.
    if (cur.translates() && !translate_address(payload, true, cur.peer_view())) {
      cur.drops.fetch_add(1, std::memory_order_relaxed);
      return Opened::dropped;
    }
    cur.rx_packets.fetch_add(1, std::memory_order_relaxed);
    cur.rx_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
  }
  // An authentic capsule from a new source: follow it (the peer moved, its
  // NAT rebound, or the relay carries the path now).  Not for one sealed
  // under the previous epoch: where the current one sends is the new
  // direction's business.
  if (found == &cur && cur.peer() != from) {
    cur.set_peer(from);
    roamed = true;
  }
  return payload.empty() ? Opened::keepalive : Opened::packet;
}

}  // namespace ntm::node
