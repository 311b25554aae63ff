// SPDX-License-Identifier: MIT
// Anti-replay state (RFC 6479 style bitmap, as IPsec and WireGuard keep it).
// A counter is accepted once, and only if it is newer than the highest seen
// minus the window.  Update only after the message authenticated, so that
// forgeries cannot move the window.
#pragma once

#include <array>
#include <cstdint>

#include "ntm/wire.h"
#include "ntm/wire/error.hpp"

namespace ntm::wire {

template <std::uint64_t Bits>
class BasicReplayWindow {
 public:
  static_assert(Bits % 64 == 0 && Bits >= 64, "window is whole 64-bit words");
  static constexpr std::uint64_t kBits = Bits;

  // Would this counter be accepted?  Does not record it.
  bool check(std::uint64_t counter) const noexcept;
  // Records the counter; false if it is a replay or too old.
  bool update(std::uint64_t counter) noexcept;

 private:
  // One word more than the window: the word holding top_ and the word
  // holding the oldest counter inside the window must never share a slot.
  static constexpr std::size_t kWords = kBits / 64 + 1;
  static constexpr std::uint64_t kRingBits = kWords * 64;
  std::array<std::uint64_t, kWords> bits_{};
  std::uint64_t top_ = 0;  // highest counter seen
  bool any_ = false;
};

// Replay state for one receiving key: a window per sender instance (a DC
// cluster has several processes sending under one key, each with its own
// instance and counter), at most kMaxInstances.  A slot is reused only when
// its instance has been silent longer than evict_after_ms, which must be at
// least the freshness bound, so an evicted instance's old messages are stale.
template <std::size_t Slots, std::uint64_t Bits>
class BasicReplayGuard {
 public:
  static constexpr std::size_t kMaxInstances = Slots;

  Error accept(std::uint32_t instance, std::uint64_t counter, std::uint64_t now_ms,
               std::uint64_t evict_after_ms) noexcept;
  bool would_accept(std::uint32_t instance, std::uint64_t counter) const noexcept;

 private:
  struct Slot {
    bool used = false;
    std::uint32_t instance = 0;
    std::uint64_t last_ms = 0;
    BasicReplayWindow<Bits> window;
  };
  std::array<Slot, kMaxInstances> slots_{};
};

// The protocol's window for capsules and for nodes receiving from a DC
// cluster (several instances).
using ReplayWindow = BasicReplayWindow<NTM_REPLAY_WINDOW>;
using ReplayGuard = BasicReplayGuard<8, NTM_REPLAY_WINDOW>;
// A DC keeps this per node: a node sends from one instance (two across a
// restart; four slots let a crash-looping node back in), and its control
// messages are sequential requests, so 256
// messages of reordering is plenty; 100,000 nodes then need ~29 MB for it.
using CompactReplayGuard = BasicReplayGuard<4, 256>;

extern template class BasicReplayWindow<NTM_REPLAY_WINDOW>;
extern template class BasicReplayGuard<8, NTM_REPLAY_WINDOW>;
extern template class BasicReplayWindow<256>;
extern template class BasicReplayGuard<4, 256>;

}  // namespace ntm::wire
