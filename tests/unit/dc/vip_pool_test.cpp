// SPDX-License-Identifier: MIT
#include "state/vip_pool.hpp"

#include <doctest/doctest.h>

#include <set>

using ntm::dc::config::Ipv4Prefix;
using ntm::dc::state::VipPool;

TEST_CASE("VIP pool: every usable address once, never network or broadcast, then exhausted") {
  const Ipv4Prefix p{0x0a000000u, 28};  // 10.0.0.0/28: 14 usable
  VipPool pool(p);
  CHECK(pool.free_count() == 14);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 14; ++i) {
    auto v = pool.allocate();
    REQUIRE(v);
    CHECK(p.contains(*v));
    CHECK(*v != 0x0a000000u);
    CHECK(*v != 0x0a00000fu);
    CHECK(seen.insert(*v).second);
  }
  CHECK_FALSE(pool.allocate());
  CHECK(pool.free_count() == 0);
}

TEST_CASE("VIP pool: a released address is handed out again") {
  VipPool pool(Ipv4Prefix{0x0a000000u, 29});  // 6 usable
  std::vector<std::uint32_t> all;
  while (auto v = pool.allocate()) all.push_back(*v);
  REQUIRE(all.size() == 6);
  pool.release(all[3]);
  CHECK(pool.free_count() == 1);
  auto again = pool.allocate();
  REQUIRE(again);
  CHECK(*again == all[3]);
  pool.release(0x0b000001u);  // outside the pool: ignored
  CHECK(pool.free_count() == 0);
}

TEST_CASE("VIP pool: addresses taken elsewhere are skipped") {
  VipPool pool(Ipv4Prefix{0x64400000u, 24}, 0);
  CHECK(pool.mark_used(0x64400001u));
  CHECK_FALSE(pool.mark_used(0x64400001u));  // already taken
  CHECK_FALSE(pool.mark_used(0x64400000u));  // network address
  CHECK_FALSE(pool.mark_used(0x644000ffu));  // broadcast
  CHECK_FALSE(pool.mark_used(0x64410001u));  // outside
  auto v = pool.allocate();
  REQUIRE(v);
  CHECK(*v == 0x64400002u);
  CHECK(pool.free_count() == 252);
}

TEST_CASE("VIP pool: a random start still covers the whole pool") {
  VipPool pool(Ipv4Prefix{0x64400000u, 22}, 0xdeadbeefu);
  std::set<std::uint32_t> seen;
  while (auto v = pool.allocate()) CHECK(seen.insert(*v).second);
  CHECK(seen.size() == 1022);
}
