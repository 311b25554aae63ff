// SPDX-License-Identifier: MIT
// Wall-clock and monotonic time in the units the protocol uses.
#pragma once

#include <cstdint>

namespace ntm::common {

// Unix time in milliseconds (control message timestamps).
std::uint64_t wall_ms() noexcept;
// Unix time in nanoseconds (initial control counters).
std::uint64_t wall_ns() noexcept;
// Monotonic milliseconds (timers, intervals).
std::uint64_t mono_ms() noexcept;
// Monotonic microseconds (rate limits finer than a millisecond).
std::uint64_t mono_us() noexcept;

}  // namespace ntm::common
