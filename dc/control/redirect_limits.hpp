// SPDX-License-Identifier: MIT
// Re-direction limits (docs/dc.md "Moves"), shared by the local paths'
// redirect requests (direction.cpp) and the federated ones a peer DC passes
// on (federation.cpp).  A redirect request is taken at most once per
// kRedirectHoldoffMs after the path's last direction ended, unless an end
// moved since: it bounds how fast a node can cycle a path's key epochs (a
// u8), and a request that crossed the Route Direction of the re-direction it
// asked for is not taken for a second failure.  A node retransmits its
// request every second, so one that still wants it is served on its next
// retransmission.  A retransmission (same txid) of a request already taken
// is a duplicate for kAskedMemoryMs, longer than any node or peer DC
// retransmits one request.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ntm/common/clock.hpp"
#include "state/path.hpp"

namespace ntm::dc::control {

inline constexpr std::uint64_t kRedirectHoldoffMs = 1000;
inline constexpr std::uint64_t kAskedMemoryMs = 30'000;
// How long a failed first direction's epoch is remembered (Server::
// failed_first_): far longer than a datagram lingers in a network, and
// than an end's retransmissions of its Direction Request last.
inline constexpr std::uint64_t kFailedFirstMemoryMs = 60'000;
// How far the members' wall clocks may disagree (docs/operations.md "DC
// cluster": the members keep time with NTP): added to a `directing` row's
// lease so that a member whose clock runs ahead does not cut another's
// direction short.
inline constexpr std::uint64_t kClockSkewMs = 1000;

// A `directing` row with no direction running here was written by another
// member of the cluster (whose direction is under way for as long as a
// direction may take: the row's lease) or left by a member that stopped
// midway (past the lease: an orphan, directed afresh).  A lone DC has no
// other member: every such row is its own, left by a restart.
inline bool directed_elsewhere(const state::Path& p, bool cluster,
                               std::uint64_t direction_timeout_ms, std::uint64_t now_wall_ms) {
  return cluster && p.state == state::PathState::directing &&
         now_wall_ms < p.updated_ms + direction_timeout_ms + kClockSkewMs;
}

// Index of an end in Path::asked.
inline int end_index(const state::Path& p, const wire::NodeId& id) {
  return p.initiator == id ? 0 : 1;
}

inline void note_asked(state::Path& p, const wire::NodeId& id, std::uint32_t txid) {
  p.asked[end_index(p, id)] = {txid, std::max<std::uint64_t>(common::mono_ms(), 1)};
}

inline bool was_asked(const state::Path& p, const wire::NodeId& id, std::uint32_t txid) {
  const auto& a = p.asked[end_index(p, id)];
  return a.mono_ms != 0 && a.txid == txid && common::mono_ms() - a.mono_ms < kAskedMemoryMs;
}

}  // namespace ntm::dc::control
