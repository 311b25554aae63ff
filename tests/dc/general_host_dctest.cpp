// SPDX-License-Identifier: MIT
// General hosts' VIPs in the database (migration 0008, docs/dc.md §10),
// through the store's claim and sweep operations on a real PostgreSQL: one
// address per name whichever connection (DC process) asks, never one
// address for two names even when members claim at once, a full pool
// refused, unused names forgotten and their addresses reused.
#include <doctest/doctest.h>

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>

#include "ntm/wire/secret_key.hpp"
#include "pg_test_db.hpp"
#include "state/path.hpp"
#include "store/migrate.hpp"
#include "store/store.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

constexpr std::uint32_t kPool = 0x647f0000u;  // 100.127.0.0, the default general_pool

void migrated(const std::string& url) {
  pqxx::connection c(url);
  dc::store::migrate(c);
}

dc::store::GeneralHostClaim::Result claim(dc::store::Store& store, const std::string& name,
                                          unsigned length = 16, std::uint32_t start = 7,
                                          std::uint32_t network = kPool) {
  dc::store::GeneralHostClaim c;
  c.name = name;
  c.pool_network = network;
  c.pool_length = length;
  c.start = start;
  auto result = c.result;
  dc::store::WriteOp op = std::move(c);
  store.apply({&op});
  return *result;
}

std::uint64_t sweep(dc::store::Store& store, std::uint32_t hold_s, unsigned length = 16,
                    std::uint32_t network = kPool) {
  dc::store::GeneralHostSweep w;
  w.pool_network = network;
  w.pool_length = length;
  w.hold_s = hold_s;
  auto forgotten = w.forgotten;
  dc::store::WriteOp op = std::move(w);
  store.apply({&op});
  return *forgotten;
}

void exec(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0(sql);
  tx.commit();
}

long long count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  return tx.exec1(sql)[0].as<long long>();
}

}  // namespace

TEST_CASE("general hosts: one VIP per name whichever DC process asks, two names never one") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  migrated(db.url());
  dc::store::Store a(db.url()), b(db.url());
  const auto first = claim(a, "www.example.org");
  REQUIRE(first.vip != 0);
  CHECK_FALSE(first.exhausted);
  // Inside the pool, never its network or broadcast address; start 7 is
  // an offset among the usable addresses (.1 on).
  CHECK(first.vip == kPool + 1 + 7);
  // Another process (connection) gets the same address for the name.
  CHECK(claim(b, "www.example.org").vip == first.vip);
  CHECK(claim(a, "www.example.org").vip == first.vip);
  // Another name starting at the same place gets the next free one.
  const auto other = claim(b, "ftp.example.org");
  CHECK(other.vip == first.vip + 1);
  CHECK(count(db.url(), "SELECT count(*) FROM general_hosts") == 2);
}

TEST_CASE("general hosts: a full pool is refused, and an address is freed only when unused") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  migrated(db.url());
  dc::store::Store s(db.url());
  // A /30: two usable addresses.
  const auto one = claim(s, "one.example", 30, 0);
  const auto two = claim(s, "two.example", 30, 0);
  REQUIRE(one.vip == kPool + 1);
  REQUIRE(two.vip == kPool + 2);
  const auto three = claim(s, "three.example", 30, 0);
  CHECK(three.vip == 0);
  CHECK(three.exhausted);
  // A claim renews: what was asked for lately is kept.
  CHECK(sweep(s, 600, 30) == 0);
  // Both last asked for two days ago; a path still leads to two.example.
  exec(db.url(), "UPDATE general_hosts SET last_used = now() - interval '2 days'");
  wire::NodeId mn;
  wire::random_bytes(mn.bytes);
  dc::state::Path p;
  wire::random_bytes(p.id.bytes);
  p.initiator = mn;
  p.responder_fqdn = "two.example";
  p.general_addr = wire::IpAddr::v4(0x7f000001u);
  p.state = dc::state::PathState::established;
  {
    dc::store::WriteOp w = dc::store::PathWrite{p};
    s.apply({&w});
  }
  CHECK(sweep(s, 86400, 30) == 1);
  CHECK(count(db.url(), "SELECT count(*) FROM general_hosts WHERE name = 'two.example'") == 1);
  // one.example's address is free again, and goes to the next name.
  const auto again = claim(s, "three.example", 30, 0);
  CHECK(again.vip == kPool + 1);
  CHECK_FALSE(again.exhausted);
  // Within the hold nothing goes, old or not.
  exec(db.url(), "UPDATE general_hosts SET last_used = now() - interval '2 days'");
  CHECK(sweep(s, 3 * 86400, 30) == 0);
}

TEST_CASE("general hosts: a changed pool moves a name into it, and the sweep forgets the rest") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  migrated(db.url());
  dc::store::Store s(db.url());
  const auto old = claim(s, "www.example.org", 24, 0);
  REQUIRE(old.vip == kPool + 1);
  claim(s, "ftp.example.org", 24, 0);
  // [vip] general_pool changed to 100.127.1.0/24.
  const std::uint32_t moved_pool = kPool + 256;
  const auto now = claim(s, "www.example.org", 24, 0, moved_pool);
  CHECK(now.vip == moved_pool + 1);
  CHECK(count(db.url(), "SELECT count(*) FROM general_hosts WHERE name = 'www.example.org'") == 1);
  // ftp.example.org lies outside the new pool: forgotten however recent.
  CHECK(sweep(s, 86400, 24, moved_pool) == 1);
  CHECK(count(db.url(), "SELECT count(*) FROM general_hosts") == 1);
}

TEST_CASE("general hosts: two DC processes claiming at once never give one address to two names") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  migrated(db.url());
  constexpr int kNames = 40;
  // Both claim every name, in opposite orders, each search starting at the
  // pool's first address: every new name races for the same address.
  std::map<std::string, std::uint32_t> got[2];
  auto member = [&](int which) {
    dc::store::Store s(db.url());
    for (int i = 0; i < kNames; ++i) {
      const int n = which == 0 ? i : kNames - 1 - i;
      const std::string name = "host" + std::to_string(n) + ".example";
      got[which][name] = claim(s, name, 24, 0).vip;
    }
  };
  std::thread t0(member, 0), t1(member, 1);
  t0.join();
  t1.join();
  std::set<std::uint32_t> distinct;
  // Not a structured binding: doctest's CHECK_MESSAGE captures in a lambda,
  // which clang 14 refuses for one.
  for (const auto& entry : got[0]) {
    const std::string& name = entry.first;
    const std::uint32_t vip = entry.second;
    CHECK_MESSAGE(vip != 0, name);
    CHECK_MESSAGE(got[1].at(name) == vip, name);
    distinct.insert(vip);
  }
  CHECK(distinct.size() == kNames);
  CHECK(count(db.url(), "SELECT count(*) FROM general_hosts") == kNames);
}
