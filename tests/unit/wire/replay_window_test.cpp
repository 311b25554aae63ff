// SPDX-License-Identifier: MIT
#include "ntm/wire/replay_window.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace ntm::wire;

TEST_CASE("replay window accepts each counter once") {
  ReplayWindow w;
  CHECK(w.update(0));
  CHECK_FALSE(w.update(0));
  CHECK(w.update(1));
  CHECK(w.update(5));
  CHECK(w.update(3));  // late but inside the window
  CHECK_FALSE(w.update(3));
  CHECK_FALSE(w.update(5));
  CHECK(w.update(2));
  CHECK(w.update(4));
}

TEST_CASE("replay window edges") {
  ReplayWindow w;
  const std::uint64_t top = 10'000;
  CHECK(w.update(top));
  CHECK(w.check(top - ReplayWindow::kBits + 1));   // oldest still inside
  CHECK_FALSE(w.check(top - ReplayWindow::kBits));  // just left of the window
  CHECK(w.update(top - ReplayWindow::kBits + 1));
  CHECK_FALSE(w.update(top - ReplayWindow::kBits + 1));
  // A jump further than the window forgets everything older.
  CHECK(w.update(top + 10 * ReplayWindow::kBits));
  CHECK_FALSE(w.check(top));
  CHECK_FALSE(w.check(top + 10 * ReplayWindow::kBits));
  CHECK(w.check(top + 10 * ReplayWindow::kBits - 1));
  CHECK_FALSE(w.update(NTM_COUNTER_REJECT_AFTER));
}

TEST_CASE("replay window against a reference set, over every shift pattern") {
  // Exhaustive-ish: random order inside a sliding region, compared with an
  // exact model (a set of seen counters plus the window rule).
  ReplayWindow w;
  std::vector<bool> seen(40'000, false);
  std::uint64_t top = 0;
  bool any = false;
  std::uint64_t x = 88172645463325252ull;  // xorshift, deterministic
  for (int i = 0; i < 200'000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const std::uint64_t base = static_cast<std::uint64_t>(i) / 8;
    const std::uint64_t c = base + x % 3000;
    if (c >= seen.size()) continue;
    const bool expect = !seen[c] && (!any || c > top || top - c < ReplayWindow::kBits);
    REQUIRE(w.update(c) == expect);
    if (expect) {
      seen[c] = true;
      if (!any || c > top) top = c;
      any = true;
    }
  }
}

TEST_CASE("replay guard keeps a window per sender instance") {
  ReplayGuard g;
  const std::uint64_t evict = 120'000;
  CHECK(g.accept(1, 100, 0, evict) == Error::ok);
  CHECK(g.accept(2, 5, 0, evict) == Error::ok);  // another DC process, its own counter
  CHECK(g.accept(1, 100, 0, evict) == Error::replayed);
  CHECK(g.accept(2, 5, 0, evict) == Error::replayed);
  CHECK(g.accept(1, 101, 0, evict) == Error::ok);
  for (std::uint32_t i = 3; i <= ReplayGuard::kMaxInstances; ++i)
    CHECK(g.accept(i, 1, 1000, evict) == Error::ok);
  // Full of live instances: a new one is refused rather than evicting state
  // whose messages could still be replayed.
  CHECK(g.accept(99, 1, 2000, evict) == Error::too_many_senders);
  // Once the oldest instance has been silent past the eviction bound, its
  // slot is reused.
  CHECK(g.accept(99, 1, 2000 + evict + 1, evict) == Error::ok);
}
