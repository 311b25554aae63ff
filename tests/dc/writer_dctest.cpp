// SPDX-License-Identifier: MIT
// The group-commit writer against a real database: writes nobody waits for
// linger and share a transaction; a write someone waits for never lingers.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "pg_test_db.hpp"
#include "store/migrate.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

using namespace ntm;
using namespace ntm::test;
using namespace std::chrono_literals;

namespace {

// A migrated database with one zone; returns the zone's ID.
int prepare(const std::string& url) {
  {
    pqxx::connection c(url);
    dc::store::migrate(c);
  }
  dc::store::Store store(url);
  return store.ensure_zones({"w.example"}).at(0).zone_id;
}

long stored_serial(const std::string& url) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  return tx.exec1("SELECT serial FROM zones WHERE name = 'w.example'")[0].as<long>();
}

bool drained(const dc::store::Writer& w, std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (w.pending() != 0) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("writer: writes nobody waits for gather into one transaction") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const int zone = prepare(db.url());
  dc::store::Writer w(db.url(), 256, {}, 300ms);
  for (int i = 1; i <= 50; ++i) w.submit(dc::store::ZoneSerialWrite{zone, 1000 + i}, nullptr);
  REQUIRE(drained(w, 10s));
  CHECK(w.stats().ops == 50);
  CHECK(w.stats().batches == 1);
  CHECK(stored_serial(db.url()) == 1050);
}

TEST_CASE("writer: a write someone waits for does not linger and takes the others along") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const int zone = prepare(db.url());
  // A linger far longer than the test may wait.
  dc::store::Writer w(db.url(), 256, {}, 60s);
  w.submit(dc::store::ZoneSerialWrite{zone, 7}, nullptr);
  std::promise<bool> done;
  auto committed = done.get_future();
  w.submit(dc::store::ZoneSerialWrite{zone, 8}, [&](bool ok) { done.set_value(ok); });
  REQUIRE(committed.wait_for(20s) == std::future_status::ready);
  CHECK(committed.get());
  CHECK(w.stats().batches == 1);  // the lingering write went in the same transaction
  CHECK(w.stats().ops == 2);
  CHECK(stored_serial(db.url()) == 8);
}

TEST_CASE("writer: a full batch goes at once, and stop() applies what still lingers") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const int zone = prepare(db.url());
  dc::store::Writer w(db.url(), 10, {}, 60s);
  for (unsigned i = 1; i <= 25; ++i) w.submit(dc::store::ZoneSerialWrite{zone, i}, nullptr);
  // Two full batches of 10 leave at once; the last 5 wait for company.
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (w.stats().ops < 20 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  CHECK(w.stats().ops == 20);
  CHECK(w.pending() == 5);
  CHECK(stored_serial(db.url()) == 20);
  w.stop();
  CHECK(w.stats().ops == 25);
  CHECK(w.pending() == 0);
  CHECK(stored_serial(db.url()) == 25);
}

TEST_CASE("writer: without a linger every write goes at once") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const int zone = prepare(db.url());
  dc::store::Writer w(db.url(), 256, {}, 0ms);
  w.submit(dc::store::ZoneSerialWrite{zone, 3}, nullptr);
  REQUIRE(drained(w, 10s));
  CHECK(stored_serial(db.url()) == 3);
}
