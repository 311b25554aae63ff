// SPDX-License-Identifier: MIT
// DC cluster: what another ntm-dc process on the same database changed,
// applied to this process's View (docs/operations.md "DC cluster").  The
// listener thread reloads the rows named by a notification, or passes on
// the registrations and path changes a notification carries; here, on the
// I/O thread, they replace the location, liveness and path records while
// the process's own soft state (replay windows, rate limiters, prompts,
// directions in progress, NAT bindings towards this member) stays.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "control/directing.hpp"
#include "control/server.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

void Server::on_cluster_parties(const std::vector<store::PartyRow>& rows, bool seen_only) {
  if (stopped_) return;
  for (const auto& row : rows) {
    state::Party* p = view_.find(row.id);
    // Not known here, or re-keyed: taken whole, as an enrollment note is.
    if (!p || !p->key.equals(row.key) || p->key_epoch != row.key_epoch || p->name != row.name) {
      on_party_changed(row.id, row);
      continue;
    }
    const bool was_online = p->online;
    // A grace period another member ended (the party spoke there under
    // its new key) ends here too.
    p->keep_previous(row.prev_key, row.prev_key_until_ms, common::wall_ms());
    p->last_seen_ms = std::max(p->last_seen_ms, row.last_seen_ms);
    if (p->kind == state::PartyKind::relay) {
      p->active_paths = row.active_paths;
      p->load_permille = row.load_permille;
    }
    if (seen_only) {
      // Alive at its home: it may have expired in this view meanwhile.
      if (row.online && !p->online) {
        p->online = true;
        published(*p);
      }
      continue;
    }
    // A registration (or expiry) at another member: that member is its home.
    registered_elsewhere(*p, row.local, row.observed, row.behind_nat, row.symmetric_nat,
                         row.online, was_online);
  }
}

std::vector<wire::NodeId> Server::on_cluster_registrations(
    const std::vector<store::RegistrationWrite>& regs) {
  std::vector<wire::NodeId> unknown;
  if (stopped_) return unknown;
  const std::uint64_t now = common::wall_ms();
  for (const auto& r : regs) {
    state::Party* p = view_.find(r.id);
    // Not (yet) in this view, or not a node: the row, reloaded, says it all.
    if (!p || p->kind != state::PartyKind::node) {
      unknown.push_back(r.id);
      continue;
    }
    // The message itself is seen here too: an on-path copy of it sent to
    // this member is refused as a replay (from the note's arrival on;
    // a copy that comes before the note is not).
    if (r.counter != 0)
      (void)p->replay.accept(r.instance, r.counter, now, 2 * cfg_.max_skew_s * 1000ull);
    const bool was_online = p->online;
    // The row's last_seen is the commit's time; the note arrives within
    // milliseconds of it, and this member's clock is the one it sweeps by.
    p->last_seen_ms = std::max(p->last_seen_ms, now);
    registered_elsewhere(*p, r.local, r.observed, r.behind_nat, r.symmetric_nat, true, was_online);
  }
  return unknown;
}

void Server::registered_elsewhere(state::Party& p, const std::vector<wire::Endpoint>& local,
                                  const wire::Endpoint& observed, bool behind_nat,
                                  bool symmetric_nat, bool online, bool was_online) {
  const bool placed = local != p.local || observed != p.observed;
  p.local = local;
  p.observed = observed;
  p.behind_nat = behind_nat;
  p.symmetric_nat = symmetric_nat;
  p.online = online;
  p.home_here = false;
  if (placed) {
    // Its binding towards this member is from before the move; its next
    // Keepalive here (ntmd sends one to every member after registering)
    // renews it.  Until then the home's observed endpoint is the guess.
    p.binding = {};
    p.missed_directions = 0;
    // A Route Direction from here to it went to its old address: again
    // at once.  Its paths are reconsidered by its home, not here.
    resend_to_moved(p);
  }
  if (placed || was_online != p.online) published(p);
  // Tests measure the propagation bound by this line.
  spdlog::debug("cluster: {} {} at {} (another member's)", p.name,
                p.online ? "registered" : "offline", p.observed.to_string());
}

void Server::on_cluster_paths(const std::vector<wire::PathId>& ids,
                              const std::vector<state::Path>& rows, bool resync) {
  if (stopped_) return;
  std::unordered_set<wire::PathId> present;
  for (const auto& row : rows) {
    present.insert(row.id);
    // A direction in progress here owns its path until it ends.
    if (directing_.count(row.id)) continue;
    spdlog::debug("cluster: path {} {} epoch {} (another member's)", row.id.to_hex(),
                  row.state == state::PathState::directing     ? "directing"
                  : row.state == state::PathState::established ? "established"
                                                               : "closed",
                  row.key_epoch);
    state::Path merged = row;
    if (const state::Path* old = view_.find_path(row.id)) {
      if (resync && old->updated_ms > row.updated_ms) continue;
      // Memory-only re-direction records of this process (path.hpp).
      merged.directed_seq = old->directed_seq;
      merged.directed_mono_ms = old->directed_mono_ms;
      // The same key epoch: its age goes on; another member's new one
      // counts from when this view sees it (0).
      if (old->key_epoch == merged.key_epoch) merged.keyed_mono_ms = old->keyed_mono_ms;
      merged.asked[0] = old->asked[0];
      merged.asked[1] = old->asked[1];
    }
    view_.put_path(merged);
  }
  if (resync) return;  // a path missing from the database may be one not written yet
  for (const auto& id : ids)
    if (!present.count(id) && !directing_.count(id)) view_.erase_path(id);
}

}  // namespace ntm::dc::control
