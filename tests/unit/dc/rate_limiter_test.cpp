// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "state/party.hpp"

using ntm::dc::state::RateLimiter;

TEST_CASE("rate limiter: a burst of two seconds, then the configured rate") {
  RateLimiter r;
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += r.allow(1000, 50);
  CHECK(allowed == 100);  // 2 s worth at 50/s
  CHECK_FALSE(r.allow(1000, 50));
  CHECK(r.allow(1020, 50));  // 20 ms later: one more token
  CHECK_FALSE(r.allow(1020, 50));
  int later = 0;
  for (int i = 0; i < 1000; ++i) later += r.allow(2020, 50);
  CHECK(later == 50);
}
