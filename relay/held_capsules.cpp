// SPDX-License-Identifier: MIT
#include "held_capsules.hpp"

#include <algorithm>

namespace ntm::relay {

bool HeldCapsules::hold(const wire::PathId& id, int end, const wire::Endpoint& from,
                        std::span<const std::uint8_t> datagram, std::uint64_t now_ms) noexcept {
  if (datagram.size() > kMaxDatagram) return false;
  Slot& s = slots_[next_];
  next_ = (next_ + 1) % kSlots;
  if (!s.used) ++count_;
  s.used = true;
  s.end = end;
  s.id = id;
  s.from = from;
  s.at_ms = now_ms;
  s.len = static_cast<std::uint16_t>(datagram.size());
  std::copy(datagram.begin(), datagram.end(), s.data.begin());
  return true;
}

}  // namespace ntm::relay
