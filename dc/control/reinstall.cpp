// SPDX-License-Identifier: MIT
// Paths directed again without a move: a relay or a node that restarted
// (it holds no path, its peers still do), or a relay that went offline
// (docs/dc.md §8.4).  Queued, and directed a slice per tick.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "control/directing.hpp"
#include "control/server.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

void Server::relay_restarted(state::Party& relay, std::uint32_t instance) {
  // Retransmissions of one start registration (its answer waits for the
  // commit): acted on once per process of the relay.
  if (relay.restart_instance == instance) return;
  relay.restart_instance = instance;
  stats_.relay_restarts++;
  redirect_paths_of(relay, "restarted");
}

void Server::relay_lost(const state::Party& relay) {
  stats_.relays_lost++;
  redirect_paths_of(relay, "went offline");
}

void Server::redirect_paths_of(const state::Party& relay, std::string_view why) {
  std::size_t queued = 0;
  view_.for_each_path([&](state::Path& p) {
    if (p.relay != relay.id || p.state != state::PathState::established) return;
    reinstall_.push_back({p.id, relay.id, false});
    ++queued;
  });
  if (queued)
    spdlog::info("relay: {} {}: its {} paths are directed again", relay.name, why, queued);
}

void Server::node_restarted(state::Party& node, std::uint32_t instance) {
  // As for a relay: once per process, whatever its retransmissions.
  if (node.restart_instance == instance) return;
  node.restart_instance = instance;
  node.restarted_seq = ++placement_seq_;
  std::size_t queued = 0;
  std::vector<wire::PathId> general;
  for (const state::Path* p : view_.paths_of(node.id)) {
    if (p->responder) {
      reinstall_.push_back({p->id, node.id, true});
      ++queued;
    } else if (p->state == state::PathState::established && !directing_.count(p->id)) {
      // A general host's path: directed only on its initiator's request
      // (direct_general), and nobody else can release it.  The new process
      // knows neither the path nor the name behind the VIP, so it is let
      // go; the MN's next lookup of the name directs a new one, to the
      // same VIP (general_vips_).
      general.push_back(p->id);
    }
  }
  for (const wire::PathId& id : general) {
    const state::Path gone = *view_.find_path(id);
    view_.erase_path(id);
    stats_.general_let_go++;
    tear_down(gone);
  }
  if (!queued && general.empty()) return;
  stats_.node_restarts++;
  spdlog::info("registration: {} restarted: its {} paths are directed again, {} to general hosts "
               "let go", node.name, queued, general.size());
}

bool Server::reinstall_for_node(const wire::PathId& id, const wire::NodeId& node_id, bool& wait) {
  wait = false;
  state::Path* p = view_.find_path(id);
  if (!p || !p->responder || (p->initiator != node_id && *p->responder != node_id)) return false;
  const state::Party* node = view_.find(node_id);
  if (!node || !node->online) return false;  // its return registers again
  if (auto it = directing_.find(id); it != directing_.end()) {
    // Begun after the restart: its Route Direction reaches the new process.
    // Begun before: the old process may have taken (and acked) it, so the
    // path is directed again once this direction ends.
    if (it->second->path.directed_seq >= node->restarted_seq) return false;
    wait = true;
    return false;
  }
  if (asking_.count(id) || telling_.count(id)) {
    wait = true;
    return false;
  }
  if (p->state != state::PathState::established) return false;
  p->keyed_mono_ms = std::max<std::uint64_t>(common::mono_ms(), 1);
  if (p->remote) {
    if (p->initiator == node_id) {
      // DC_MN: the peer is asked about CN again, as for a re-key.
      if (!peer_reachable_for(p->responder_fqdn)) return false;
      reask(*p, /*initiator_moved=*/false, /*redirect=*/true, /*rekey=*/true);
    } else if (!tell_peer_of_move(*p, /*redirect=*/true, nullptr, 0, {})) {
      // DC_CN: only DC_MN re-directs; it is asked to (Path Moved).
      return false;
    }
    spdlog::debug("registration: federated path {} directed again for restarted {}",
                  id.to_hex(), node->name);
    return true;
  }
  const state::Party* other = view_.find(p->initiator == node_id ? *p->responder : p->initiator);
  if (!other || !other->online) return false;
  spdlog::debug("registration: path {} directed again for restarted {}", id.to_hex(), node->name);
  // As a re-key: the route decided again (it stays unless placements
  // changed), the relay kept while it serves, the next key epoch to both.
  redirect_path(*p, nullptr, 0, {}, /*route_failed=*/false, /*rekey=*/true);
  return true;
}

void Server::reinstall_sweep() {
  // 50 a tick, 500 a second: a relay of 10,000 paths is whole again in
  // 20 s without a burst of directions that would delay everyone else's.
  constexpr std::size_t kPerTick = 50;
  std::vector<Reinstall> later;  // a restarted node's paths being directed now
  for (std::size_t n = 0; n < kPerTick && !reinstall_.empty() && !draining_ && !stopped_;) {
    const Reinstall r = reinstall_.front();
    reinstall_.pop_front();
    const wire::PathId id = r.path;
    if (r.node) {
      bool wait = false;
      if (reinstall_for_node(id, r.party, wait)) {
        ++n;
        stats_.paths_reinstalled++;
      }
      if (wait) later.push_back(r);
      continue;
    }
    const wire::NodeId relay_id = r.party;
    state::Path* p = view_.find_path(id);
    // Gone, on another relay by now, or being directed anyway (which
    // installs it at its relay).
    if (!p || p->state != state::PathState::established || p->relay != relay_id ||
        directing_.count(id) || asking_.count(id))
      continue;
    // Back: the re-direction keeps it.  Still offline: it is not usable,
    // and the re-direction picks another (or, for a stand-by, none).
    const state::Party* relay = view_.find(relay_id);
    if (!relay) continue;
    // Gone with nowhere to go: a relayed path's re-direction would only
    // fail (and log that) once per path; it stays until a relay is back or
    // an end asks.
    if (!relay->online && p->route == wire::RouteType::relay && !pick_relay({})) continue;
    // A general host's path is directed only on its initiator's request
    // (direct_general): its dead-path probe asks once it sends again.
    if (!p->responder) continue;
    ++n;
    stats_.paths_reinstalled++;
    if (p->remote) {
      // Our relay, another DC's responder: asked of the peer again, as a re-key is.
      if (!peer_reachable_for(p->responder_fqdn)) continue;
      p->keyed_mono_ms = std::max<std::uint64_t>(common::mono_ms(), 1);
      reask(*p, /*initiator_moved=*/false, /*redirect=*/true, /*rekey=*/true);
      continue;
    }
    state::Party* ini = view_.find(p->initiator);
    state::Party* resp = view_.find(*p->responder);
    if (!ini || !resp || !ini->online || !resp->online) continue;
    spdlog::debug("relay: path {} directed again for its relay {} ({})", id.to_hex(), relay->name,
                  relay->online ? "restarted" : "offline");
    p->keyed_mono_ms = std::max<std::uint64_t>(common::mono_ms(), 1);
    // As a re-key: the route decided again (it stays unless placements
    // changed), the relay kept while it serves.
    redirect_path(*p, nullptr, 0, {}, /*route_failed=*/false, /*rekey=*/true);
  }
  for (const Reinstall& r : later) reinstall_.push_back(r);
}

}  // namespace ntm::dc::control
