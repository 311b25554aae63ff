// SPDX-License-Identifier: MIT
// ntm-rs's counters.  Drops: every datagram that is not forwarded, answered
// or translated is counted under one reason and never answered (protocol.md
// §9).  Mobility: what the ends' Update Requests, translate roams and
// re-directions did (docs/relay.md, "Mobility").
#pragma once

#include <cstdint>

namespace ntm::relay {

struct Drops {
  std::uint64_t malformed = 0;       // not an NTMobile header, or a type/domain the RS never takes
  std::uint64_t unknown_path = 0;    // no path with this id (or epoch), or the wrong mode
  std::uint64_t foreign_source = 0;  // a capsule not from the sender's recorded endpoint
  std::uint64_t peer_unknown = 0;    // the other end has not registered its endpoint yet
  std::uint64_t auth_failed = 0;     // did not authenticate, was replayed or stale
  std::uint64_t bad_inner = 0;       // translated capsule whose inner packet is not allowed
  std::uint64_t refused = 0;         // Relay Directions refused (full, translate off, key, old epoch)
  std::uint64_t send_failed = 0;     // the kernel did not take a datagram
  std::uint64_t wrong_sender = 0;    // an authentic Update Request whose sender is not that end's node
  std::uint64_t rate_limited = 0;    // an authentic Update Request over its end's budget
};

struct Mobility {
  std::uint64_t accepted = 0;      // Update Requests that moved an end (a higher update_seq)
  std::uint64_t repeated = 0;      // a retransmission (same seq, from the end's endpoint): ok again
  std::uint64_t stale = 0;         // answered stale_update: nothing moved
  std::uint64_t refused = 0;       // dropped unanswered: forged, replayed, stale clock, wrong sender
  std::uint64_t rate_limited = 0;  // dropped unanswered: over the end's token bucket
  std::uint64_t roams = 0;         // translate: a newer authentic capsule from a new MN source
  std::uint64_t redirections = 0;  // Relay Directions with a newer epoch for a carried path
  std::uint64_t old_directions = 0;  // Relay Directions with an older epoch: refused
  std::uint64_t redirected_anew = 0;  // the epoch in force with another key: the path replaced
  std::uint64_t held = 0;           // capsules from an end's new source kept for its Update (also foreign_source)
  std::uint64_t held_released = 0;  // of those, forwarded once the Update from that source moved the end
};

}  // namespace ntm::relay
