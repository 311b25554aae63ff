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
