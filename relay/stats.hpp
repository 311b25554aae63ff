// SPDX-License-Identifier: MIT
// ntm-rs's drop counters: every datagram that is not forwarded, answered or
// translated is counted under one reason and never answered (protocol.md §9).
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
  std::uint64_t refused = 0;         // Relay Directions refused (full, translate off, key)
  std::uint64_t send_failed = 0;     // the kernel did not take a datagram
};

}  // namespace ntm::relay
