// SPDX-License-Identifier: MIT
#include "ntm/common/clock.hpp"

#include <time.h>

namespace ntm::common {

namespace {
std::uint64_t read_ns(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace

std::uint64_t wall_ms() noexcept { return read_ns(CLOCK_REALTIME) / 1'000'000; }
std::uint64_t wall_ns() noexcept { return read_ns(CLOCK_REALTIME); }
std::uint64_t mono_ms() noexcept { return read_ns(CLOCK_MONOTONIC) / 1'000'000; }
std::uint64_t mono_us() noexcept { return read_ns(CLOCK_MONOTONIC) / 1'000; }

}  // namespace ntm::common
