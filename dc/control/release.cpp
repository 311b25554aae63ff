// SPDX-License-Identifier: MIT
// Path Release (docs/protocol.md §7.21): an end of a path let it go after
// its idle time, so the DC forgets it.  Without this a path would live for
// ever: each end's path keepalives keep it up at the ends and the relay,
// and the re-key pass would re-direct it every path_rekey_s, bringing it
// back at an end that had dropped it.
#include <spdlog/spdlog.h>

#include "control/directing.hpp"
#include "control/server.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

namespace {
// A released path's ends are remembered this long, so that the other end's
// release (on its own idle timer, seconds later) and a retransmission whose
// ack was lost are acknowledged rather than refused.  Memory only: after a
// restart, or at another member of a cluster, such a release is refused
// with the same words as a stranger's, and the node stops asking either way.
constexpr std::uint64_t kReleasedMemoryMs = 10 * 60 * 1000;
constexpr std::size_t kReleasedMax = 65536;
}  // namespace

void Server::on_path_release(state::Party& node, const wire::PathRelease& r,
                             const wire::ControlHeader& h, const wire::Endpoint& from) {
  const auto now = common::mono_ms();
  auto ack = [&] { send(node, from, wire::PathReleaseAck{r.path_id}, h.txid); };
  auto refuse = [&] {
    stats_.releases_refused++;
    // The same words whether the path exists or not: a node learns nothing
    // about other nodes' paths from a refusal.
    send_error(node, from, h.txid, wire::ErrorCode::not_authorized, wire::MsgType::path_release,
               "no such path of yours");
  };

  const state::Path* p = view_.find_path(r.path_id);
  if (!p) {
    auto it = released_.find(r.path_id);
    if (it != released_.end() && now - it->second.mono_ms <= kReleasedMemoryMs &&
        (it->second.ends[0] == node.id || it->second.ends[1] == node.id)) {
      stats_.releases_repeated++;
      return ack();
    }
    return refuse();
  }
  const bool initiator = p->initiator == node.id;
  const bool responder = p->responder && *p->responder == node.id;
  if (!initiator && !responder) return refuse();
  // Being directed (here, asked about at a peer DC, or by another member of
  // the cluster): that direction ends first.  No answer; the node asks again.
  if (directing_.count(r.path_id) || asking_.count(r.path_id) ||
      p->state == state::PathState::directing) {
    stats_.releases_deferred++;
    spdlog::debug("release: path {} is being directed; {} asks again", r.path_id.to_hex(),
                  node.name);
    return;
  }

  const state::Path gone = *p;
  view_.erase_path(r.path_id);
  moved_later_.erase(r.path_id);
  remember_released(r.path_id, gone.initiator, gone.responder.value_or(wire::NodeId{}));
  spdlog::info("release: path {} released by {} ({}), {} paths left", r.path_id.to_hex(),
               node.name, initiator ? "initiator" : "responder", view_.path_count());
  // Acknowledged once the deletion is durable: a DC that fails before then
  // has the row again after its restart, and the node's retransmission
  // finds it there.
  const wire::NodeId id = node.id;
  const std::uint32_t txid = h.txid;
  // The other end, where it is a node of ours; a federated path's other
  // end is told by its own DC, which we tell; a general host has none.
  std::optional<wire::NodeId> other;
  if (!gone.remote && gone.responder) other = initiator ? *gone.responder : gone.initiator;
  std::string foreign;
  if (gone.remote) foreign = initiator ? gone.responder_fqdn : gone.initiator_fqdn;
  tear_down(gone, [this, alive = std::weak_ptr<bool>(alive_), id, path = r.path_id, txid, from,
                   other, foreign](bool ok) {
    asio::post(io_, [this, alive, id, path, txid, from, ok, other, foreign] {
      if (alive.expired() || stopped_) return;
      state::Party* n = view_.find(id);
      if (!n) return;  // revoked meanwhile
      if (!ok) {
        // The row may still be there: a retransmission is refused rather
        // than acknowledged, and a row that comes back after a restart is
        // re-keyed to the ends, which let it go again when it idles.
        released_.erase(path);
        send_error(*n, from, txid, wire::ErrorCode::internal, wire::MsgType::path_release,
                   "database unavailable; retry");
        return;
      }
      stats_.releases++;
      send(*n, from, wire::PathReleaseAck{path}, txid);
      if (other) tell_other_end(*other, path);
      if (!foreign.empty()) tell_peer_release(path, foreign);
    });
  });
}

void Server::remember_released(const wire::PathId& path, const wire::NodeId& a,
                               const wire::NodeId& b) {
  const auto now = common::mono_ms();
  if (released_.size() >= kReleasedMax) {
    for (auto it = released_.begin(); it != released_.end();)
      it = now - it->second.mono_ms > kReleasedMemoryMs ? released_.erase(it) : std::next(it);
    if (released_.size() >= kReleasedMax) released_.clear();
  }
  released_[path] = Released{{a, b}, now};
}

// Best effort, sent once: the other end sees the same silence and lets go
// on its own timer anyway.  What this saves is the case where its timer is
// longer (path_idle_s set differently) and its application sends first:
// its capsules would find no path at the end that let go, and only its
// dead-path probe (kDeadPathMs, then a redirect request) would bring the
// path back, some 3.5 s later.  Told, it lets go now, and its next packet
// directs the path anew at once (docs/dc.md §8.6).
void Server::tell_other_end(const wire::NodeId& other, const wire::PathId& path) {
  state::Party* p = view_.find(other);
  if (!p || !p->online || p->kind != state::PartyKind::node) return;
  stats_.releases_told++;
  send(*p, p->reach(), wire::PathRelease{path}, next_txid());
}

// The same for a federated path, through the other end's DC (protocol.md
// §7.21): it forgets the path and tells its end.  Sent once, best effort:
// without it that DC keeps the row until its end releases the path on its
// own idle timer, and that end keeps it until then.
void Server::tell_peer_release(const wire::PathId& path, const std::string& foreign_name) {
  federation::Peer* peer = peers_ ? peers_->for_name(foreign_name) : nullptr;
  if (!peer && trust_) {
    // Known by certificate, but not to this process yet: found and greeted.
    return find_peer(foreign_name, [this, path, foreign_name](federation::Peer* found,
                                                              const std::string& why) {
      if (stopped_) return;
      if (!found) {
        spdlog::debug("release: path {}: peer DC for '{}' not told: {}", path.to_hex(),
                      foreign_name, why);
        return;
      }
      tell_peer_release(path, foreign_name);
    });
  }
  if (!peer || peer->reach().empty()) {
    spdlog::debug("release: path {}: no peer DC reachable for '{}'; not told", path.to_hex(),
                  foreign_name);
    return;
  }
  stats_.releases_told_peer++;
  send_to_peer(*peer, peer->reach(), wire::PathRelease{path}, next_txid());
}

void Server::on_peer_path_release(federation::Peer& peer, const wire::PathRelease& r,
                                  std::uint32_t txid, const wire::Endpoint& from) {
  const state::Path* p = view_.find_path(r.path_id);
  // Which end is the peer's: the one that is not a node of ours.  At the
  // initiator's DC the responder is foreign, at the responder's DC the
  // initiator.  A peer may release only a federated path whose foreign end
  // lies in its zones; anything else gets the words a stranger's path gets.
  const state::Party* ini = p ? view_.find(p->initiator) : nullptr;
  const bool ours_initiate = ini && ini->kind == state::PartyKind::node;
  const std::string* foreign =
      p && p->remote ? (ours_initiate ? &p->responder_fqdn : &p->initiator_fqdn) : nullptr;
  if (!foreign || foreign->empty() || !peers_ || peers_->for_name(*foreign) != &peer ||
      (!ours_initiate && !p->responder)) {
    peer.stats.refused++;
    send_to_peer(peer, from,
                 wire::ErrorReply{wire::ErrorCode::not_authorized, wire::MsgType::path_release,
                                  wire::Text{"no such path of yours"}},
                 txid);
    return;
  }
  // Being directed: that direction ends first, and the path stays until
  // an end lets it go again (the peer does not send this twice).
  if (directing_.count(r.path_id) || asking_.count(r.path_id) || telling_.count(r.path_id) ||
      p->state == state::PathState::directing) {
    stats_.releases_deferred++;
    return;
  }
  const state::Path gone = *p;
  const wire::NodeId ours = ours_initiate ? gone.initiator : *gone.responder;
  view_.erase_path(r.path_id);
  moved_later_.erase(r.path_id);
  // Our end's own release, on its idle timer, is acknowledged as repeated.
  remember_released(r.path_id, ours, ours);
  spdlog::info("release: path {} released by peer DC {}, {} paths left", r.path_id.to_hex(),
               peer.name(), view_.path_count());
  tear_down(gone, [this, alive = std::weak_ptr<bool>(alive_), peer_ptr = &peer, path = r.path_id,
                   txid, from, ours](bool ok) {
    asio::post(io_, [this, alive, peer_ptr, path, txid, from, ok, ours] {
      if (alive.expired() || stopped_ || !ok) return;
      stats_.releases_from_peer++;
      send_to_peer(*peer_ptr, from, wire::PathReleaseAck{path}, txid);
      tell_other_end(ours, path);
    });
  });
}

}  // namespace ntm::dc::control
