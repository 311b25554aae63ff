// SPDX-License-Identifier: MIT
// Idle paths (docs/node.md, "Idle paths"): a path on which nothing but
// keepalives went either way for path_idle_s is let go here and at the DC
// (Path Release), and comes back on demand: the peer's address stays in
// our view, and the first packet an application sends to it starts a new
// direction to the peer's name.  Without this every name ever looked up
// would keep a path for ever: keepalives every 15 s at both ends and the
// relay, a row at the DC, a re-key every path_rekey_s.
#include <spdlog/spdlog.h>

#include "agent/agent_internal.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::node {

namespace {
// Path Release retransmissions: 1, 2, 4 s after the first send, then the
// node stops asking (the path is gone here either way; a DC that never
// heard keeps the row until the next re-key brings the path back, and
// this end lets it go again).
constexpr unsigned kReleaseSends = 4;
constexpr std::uint64_t kReleaseRetryFirstMs = 1000;
// Peers whose paths were let go, kept to bring them back on demand: an
// application may hold a connection to the address for days.
constexpr std::size_t kDormantMax = 4096;
constexpr std::size_t kKeptMax = 8;
}  // namespace

bool Agent::idle(Path& p, std::uint64_t now) {
  if (cfg_.path_idle_s == 0) return false;
  const auto c = dp_.counters(p.info.id);
  if (!c) return false;
  // A re-direction installs a new tunnel whose counters start at 0: a
  // fall is data only if something was counted since.
  const bool reset = c->tx_packets < p.idle_tx || c->rx_packets < p.idle_rx;
  const bool data = reset ? c->tx_packets + c->rx_packets > 0
                          : c->tx_packets != p.idle_tx || c->rx_packets != p.idle_rx;
  if (reset || data) {
    p.idle_tx = c->tx_packets;
    p.idle_rx = c->rx_packets;
  }
  if (p.data_ms == 0 || data) {
    p.data_ms = now;
    return false;
  }
  // A move in progress is traffic of a kind: the path is not idle then.
  if (p.update_pending || held_paths_.count(p.info.id)) return false;
  return now - p.data_ms >= std::uint64_t{cfg_.path_idle_s} * 1000;
}

Agent::PathMap::iterator Agent::let_go(PathMap::iterator it, std::uint64_t now,
                                      std::string_view why, bool tell_dc) {
  Path& p = *it->second;
  const wire::PathId id = p.info.id;
  spdlog::info("path {} to {}: {}; released", id.to_hex().substr(0, 8), p.info.peer.fqdn.name, why);
  if (p.info.peer_view != 0) {
    if (dormant_.size() >= kDormantMax) {
      auto oldest = dormant_.begin();
      for (auto d = dormant_.begin(); d != dormant_.end(); ++d)
        if (d->second.since_ms < oldest->second.since_ms) oldest = d;
      dormant_.erase(oldest);
    }
    dormant_[p.info.peer_view] = Dormant{p.info.peer.fqdn.name, now, {}, false};
  }
  p.retry.cancel();
  p.update_timer.cancel();
  dp_.remove(id);
  held_paths_.erase(id);
  blackout_paths_.erase(id);
  auto next = paths_.erase(it);
  ++released_;
  if (tell_dc) send_release(id, releasing_[id], now);
  return next;
}

// The DC tells us the other end let the path go (docs/dc.md §8.6): we let
// it go too, so that our next packet to the peer directs it anew at once
// instead of going into a path the peer no longer has.
void Agent::on_release_from_dc(const wire::PathRelease& r, std::uint32_t txid,
                               const wire::Endpoint& from) {
  if (auto it = paths_.find(r.path_id); it != paths_.end())
    let_go(it, common::mono_ms(), "the peer let it go", false);
  send_dc(wire::PathReleaseAck{r.path_id}, txid, &from);
}

void Agent::send_release(const wire::PathId& id, Releasing& r, std::uint64_t now) {
  r.txid = send_dc(wire::PathRelease{id}, r.txid);
  ++r.sends;
  r.next_ms = now + (kReleaseRetryFirstMs << (r.sends - 1));
}

void Agent::retransmit_releases(std::uint64_t now) {
  for (auto it = releasing_.begin(); it != releasing_.end();) {
    Releasing& r = it->second;
    if (now < r.next_ms) {
      ++it;
    } else if (r.sends >= kReleaseSends) {
      spdlog::info("path {}: the DC did not answer its release", it->first.to_hex().substr(0, 8));
      it = releasing_.erase(it);
    } else {
      send_release(it->first, r, now);
      ++it;
    }
  }
}

void Agent::on_release_answer(const wire::PathId* id, std::uint32_t txid) {
  for (auto it = releasing_.begin(); it != releasing_.end(); ++it)
    if (it->second.txid == txid && (!id || it->first == *id)) {
      releasing_.erase(it);
      return;
    }
}

void Agent::on_miss(std::uint32_t dst, std::vector<std::uint8_t> packet) {
  auto d = dormant_.find(dst);
  if (d == dormant_.end()) return;
  Dormant& dm = d->second;
  bool under_way = !!lookups_.count(dm.fqdn);
  for (const auto& [id, p] : paths_) {
    if (p->info.peer_view != dst || p->info.state == PathState::failed) continue;
    // Up since the packet missed (a race with its installation): send it.
    if (p->info.state == PathState::up) return void(dp_.send_packet(packet));
    under_way = true;  // being set up: the peer brought it back, or we did
  }
  if (dm.kept.size() < kKeptMax) dm.kept.push_back(std::move(packet));
  if (dm.reviving) return;
  dm.reviving = true;
  if (!under_way) {
    spdlog::info("path to {}: traffic for {} again; directing it anew", dm.fqdn,
                 wire::IpAddr::v4(dst).to_string());
    ++revived_;
  }
  // resolve() joins a path or lookup to the name already under way.
  resolve(dm.fqdn, [this, dst](const Resolution& r) { on_revived(dst, r); });
}

void Agent::on_revived(std::uint32_t dst, const Resolution& r) {
  auto d = dormant_.find(dst);
  if (d == dormant_.end()) return;
  d->second.reviving = false;
  auto kept = std::move(d->second.kept);
  d->second.kept.clear();
  // Another address in our view now (a new substitute): what was kept for
  // the old one has nowhere to go.
  if (r.kind != Resolution::Kind::address || r.vip != dst) {
    if (!kept.empty())
      spdlog::info("path to {}: not brought back; {} kept packet(s) dropped", d->second.fqdn,
                   kept.size());
    return;
  }
  for (const auto& k : kept) dp_.send_packet(k);
}

}  // namespace ntm::node
