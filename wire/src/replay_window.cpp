// SPDX-License-Identifier: MIT
#include "ntm/wire/replay_window.hpp"

namespace ntm::wire {

template <std::uint64_t Bits>
bool BasicReplayWindow<Bits>::check(std::uint64_t counter) const noexcept {
  if (counter >= NTM_COUNTER_REJECT_AFTER) return false;
  if (!any_ || counter > top_) return true;
  if (top_ - counter >= kBits) return false;  // left of the window
  const std::uint64_t bit = counter % kRingBits;
  return (bits_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0;
}

template <std::uint64_t Bits>
bool BasicReplayWindow<Bits>::update(std::uint64_t counter) noexcept {
  if (!check(counter)) return false;
  if (!any_ || counter > top_) {
    // Clear the words between the old top and the new one: they now stand
    // for counters never seen.
    const std::uint64_t old_word = any_ ? top_ / 64 : counter / 64;
    const std::uint64_t new_word = counter / 64;
    const std::uint64_t steps = any_ ? new_word - old_word : kWords;
    for (std::uint64_t i = 1; i <= steps && i <= kWords; ++i)
      bits_[(old_word + i) % kWords] = 0;
    if (!any_) bits_[new_word % kWords] = 0;
    top_ = counter;
    any_ = true;
  }
  const std::uint64_t bit = counter % kRingBits;
  bits_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  return true;
}

template <std::size_t Slots, std::uint64_t Bits>
bool BasicReplayGuard<Slots, Bits>::would_accept(std::uint32_t instance, std::uint64_t counter) const noexcept {
  for (const auto& s : slots_)
    if (s.used && s.instance == instance) return s.window.check(counter);
  return counter < NTM_COUNTER_REJECT_AFTER;
}

template <std::size_t Slots, std::uint64_t Bits>
Error BasicReplayGuard<Slots, Bits>::accept(std::uint32_t instance, std::uint64_t counter, std::uint64_t now_ms,
                          std::uint64_t evict_after_ms) noexcept {
  Slot* free_slot = nullptr;
  Slot* oldest = nullptr;
  for (auto& s : slots_) {
    if (s.used && s.instance == instance) {
      if (!s.window.update(counter)) return Error::replayed;
      if (now_ms > s.last_ms) s.last_ms = now_ms;
      return Error::ok;
    }
    if (!s.used) {
      if (!free_slot) free_slot = &s;
    } else if (!oldest || s.last_ms < oldest->last_ms) {
      oldest = &s;
    }
  }
  Slot* slot = free_slot;
  if (!slot && oldest && now_ms >= oldest->last_ms && now_ms - oldest->last_ms > evict_after_ms)
    slot = oldest;
  if (!slot) return Error::too_many_senders;
  *slot = Slot{};
  slot->used = true;
  slot->instance = instance;
  slot->last_ms = now_ms;
  if (!slot->window.update(counter)) return Error::replayed;
  return Error::ok;
}

template class BasicReplayWindow<NTM_REPLAY_WINDOW>;
template class BasicReplayGuard<8, NTM_REPLAY_WINDOW>;
template class BasicReplayWindow<256>;
template class BasicReplayGuard<4, 256>;

}  // namespace ntm::wire
