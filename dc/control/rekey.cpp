// SPDX-License-Identifier: MIT
// Re-keying (docs/dc.md "Re-keying"): the DC keeps no path keys, and a
// path's K_path and K_rp change only when it is directed again.  A path
// between two nodes that never move would keep one key for as long as it
// lives; so a path whose key epoch is path_rekey_s old is re-directed by
// the DC under the next epoch, the same way as after a move: the route is
// decided again (it comes out the same unless placements changed), the
// relay it has is kept, and the ends switch as for any re-direction (the
// previous epoch stays good for receiving a while).
#include <spdlog/spdlog.h>

#include "control/directing.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

void Server::rekey_sweep() {
  if (cfg_.path_rekey_s == 0 || stopped_ || draining_) return;
  // In slices, like the expiry sweep, but a pass takes 10 s (100 ticks):
  // a key's age needs no finer grain, and the I/O thread then spends ~1%
  // of a tick on it (at 50,000 paths: 500 look-ups, and a copy of the IDs
  // once per pass).
  constexpr std::size_t kSlices = 100;
  const std::uint64_t now = std::max<std::uint64_t>(common::mono_ms(), 1);
  auto all_paths = [&](std::vector<wire::PathId>& ids) {
    ids.reserve(view_.path_count());
    view_.for_each_path([&](state::Path& p) { ids.push_back(p.id); });
  };
  rekey_pass_.next(kSlices, all_paths, [&](const wire::PathId& id) {
    if (state::Path* p = view_.find_path(id)) rekey_path(*p, now);
  });
}

bool Server::rekey_path(state::Path& p, std::uint64_t now) {
  // (A path is re-keyed at most one pass, 10 s, after its age is reached.)
  if (p.keyed_mono_ms == 0) {
    // Loaded at start or from another member: its age counts from now.
    p.keyed_mono_ms = now;
    return false;
  }
  if (now - p.keyed_mono_ms < cfg_.path_rekey_s * 1000ull) return false;
  // A general host's path (no responder node) is not re-keyed: its key is
  // the RS's, and redirect_path needs a responder party (docs/dc.md §18).
  if (p.state != state::PathState::established || !p.responder || directing_.count(p.id))
    return false;
  // The initiator's DC decides, and in a cluster only the member the
  // initiator registers with: one re-direction per path, not one per
  // member.  At DC_CN a federated path's initiator is not in the view.
  const state::Party* ini = view_.find(p.initiator);
  if (!ini || !ini->home_here || !ini->online) return false;
  if (p.remote) {
    if (asking_.count(p.id) || !peer_reachable_for(p.responder_fqdn)) return false;
    stats_.rekeys++;
    spdlog::debug("direction: path {} re-keyed after {} s (federated: asking the peer DC)",
                  p.id.to_hex(), (now - p.keyed_mono_ms) / 1000);
    // Counted from now, so a peer that does not answer is asked again only
    // after another period, not on every tick.
    p.keyed_mono_ms = now;
    reask(p, /*initiator_moved=*/false, /*redirect=*/true, /*rekey=*/true);
    return true;
  }
  const state::Party* resp = view_.find(*p.responder);
  if (!resp || !resp->online) return false;  // tried again once it is back
  stats_.rekeys++;
  spdlog::debug("direction: path {} {} -> {}: re-keyed after {} s, key epoch {} -> {}",
                p.id.to_hex(), ini->name, resp->name, (now - p.keyed_mono_ms) / 1000,
                static_cast<int>(p.key_epoch), static_cast<int>(p.key_epoch + 1));
  // A failed re-direction puts the path back as it was: counted from now,
  // it is tried again after another period.
  p.keyed_mono_ms = now;
  redirect_path(p, nullptr, 0, {}, /*route_failed=*/false, /*rekey=*/true);
  return true;
}

}  // namespace ntm::dc::control
