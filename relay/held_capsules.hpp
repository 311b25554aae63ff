// SPDX-License-Identifier: MIT
// Capsules that race their end's Update Request.
//
// When an end of a forward path moves, its first capsules from the new
// address often reach the RS before its Update Request does: the
// application's packet is already in the tunnel when the node's daemon
// hears of the new address from rtnetlink.  The RS cannot open a capsule
// (it has no K_path), so it cannot move the end on a capsule; it used to
// drop them (`foreign_source`), and the first few milliseconds of every
// relayed move were lost.  Now such a capsule is kept for a short while.
// If an authenticated Update Request from that same source then moves the
// end there, the capsules kept for it are forwarded first, in the order
// they came.  Nothing is ever forwarded on the strength of an
// unauthenticated datagram alone: a capsule kept for a source that never
// proves itself simply ages out.
//
// Bounded by construction: one fixed ring of kSlots datagrams for the whole
// RS (about 90 KiB), each kept at most kHoldMs.  A flood of foreign
// capsules only pushes older kept ones out: it costs genuine moves their
// head start, never memory, and never forwards anything.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ntm/wire.h"
#include "ntm/wire/messages.hpp"

namespace ntm::relay {

class HeldCapsules {
 public:
  // A move's race is a millisecond or two; the node's first Update
  // retransmission comes 50 ms after the first send (which may itself have
  // been lost in the move).  Later than that a capsule is more likely to
  // hurt (a stale media frame) than to help.
  static constexpr std::uint64_t kHoldMs = 60;
  static constexpr std::size_t kSlots = 64;
  static constexpr std::size_t kMaxDatagram = NTM_CAPSULE_OVERHEAD + NTM_MAX_INNER;

  HeldCapsules() : slots_(kSlots) {}

  // Keeps a copy of a capsule of path `id` from end `end`, which arrived
  // from `from` (not the end's recorded endpoint).  Overwrites the oldest
  // slot.  False if the datagram is too large to keep (never, for a valid
  // capsule).
  bool hold(const wire::PathId& id, int end, const wire::Endpoint& from,
            std::span<const std::uint8_t> datagram, std::uint64_t now_ms) noexcept;

  // The end `end` of path `id` has just been moved to `from` by an
  // authenticated Update Request: calls f(datagram) for each capsule kept
  // for that path, end and source within kHoldMs, oldest first, and
  // forgets them.  Returns how many.
  template <class F>
  std::size_t release(const wire::PathId& id, int end, const wire::Endpoint& from,
                      std::uint64_t now_ms, F&& f) {
    if (count_ == 0) return 0;
    std::size_t n = 0;
    // Oldest first: the slot after the newest one is the oldest.
    for (std::size_t k = 0; k < kSlots; ++k) {
      Slot& s = slots_[(next_ + k) % kSlots];
      if (!s.used || s.end != end || s.id != id || s.from != from) continue;
      s.used = false;
      --count_;
      if (now_ms - s.at_ms > kHoldMs) continue;
      f(std::span<const std::uint8_t>(s.data.data(), s.len));
      ++n;
    }
    return n;
  }

  // How many are kept now (including aged ones not yet overwritten).
  std::size_t size() const noexcept { return count_; }

 private:
  struct Slot {
    bool used = false;
    int end = 0;
    wire::PathId id;
    wire::Endpoint from;
    std::uint64_t at_ms = 0;
    std::uint16_t len = 0;
    std::array<std::uint8_t, kMaxDatagram> data;
  };
  std::vector<Slot> slots_;
  std::size_t next_ = 0;  // the slot the next hold overwrites
  std::size_t count_ = 0;
};

}  // namespace ntm::relay
