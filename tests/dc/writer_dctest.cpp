// SPDX-License-Identifier: MIT
// The group-commit writer against a real database: writes nobody waits for
// linger and share a transaction; a write someone waits for never lingers.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "ntm/wire/secret_key.hpp"
#include "pg_test_db.hpp"
#include "state/path.hpp"
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

TEST_CASE("store: a batch's path writes and deletions keep their order per path") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const int zone = prepare(db.url());
  dc::store::Store store(db.url());
  wire::NodeId a, b;
  wire::random_bytes(a.bytes);
  wire::random_bytes(b.bytes);
  store.insert_node(a, "a.w.example", zone, wire::SecretKey::random(), 0x64400001);
  store.insert_node(b, "b.w.example", zone, wire::SecretKey::random(), 0x64400002);
  auto path = [&](std::uint8_t state) {
    dc::state::Path p;
    wire::random_bytes(p.id.bytes);
    p.initiator = a;
    p.responder = b;
    p.responder_fqdn = "b.w.example";
    p.state = static_cast<dc::state::PathState>(state);
    return p;
  };
  const dc::state::Path old = path(2);
  {
    dc::store::WriteOp w = dc::store::PathWrite{old};
    store.apply({&w});
  }
  // In one batch: a path written then deleted (never stored), the stored
  // one deleted, a path deleted then written again (stored), and a plain
  // write (stored, with its last state).
  const dc::state::Path gone = path(1), back = path(1), plain = path(1);
  dc::state::Path plain_done = plain;
  plain_done.state = dc::state::PathState::established;
  std::vector<dc::store::WriteOp> ops = {
      dc::store::PathWrite{gone},       dc::store::PathWrite{back},
      dc::store::PathWrite{plain},      dc::store::PathDelete{gone.id},
      dc::store::PathDelete{old.id},    dc::store::PathDelete{back.id},
      dc::store::PathWrite{back},       dc::store::PathWrite{plain_done},
  };
  std::vector<const dc::store::WriteOp*> batch;
  for (const auto& op : ops) batch.push_back(&op);
  store.apply(batch);

  pqxx::connection c(db.url());
  pqxx::work tx(c);
  auto state_of = [&](const wire::PathId& id) {
    auto r = tx.exec_params("SELECT state FROM paths WHERE path_id = decode($1, 'hex')",
                            id.to_hex());
    return r.empty() ? 0 : r[0][0].as<int>();
  };
  CHECK(state_of(gone.id) == 0);
  CHECK(state_of(old.id) == 0);
  CHECK(state_of(back.id) == 1);
  CHECK(state_of(plain.id) == 2);
  CHECK(tx.exec1("SELECT count(*) FROM paths")[0].as<int>() == 2);
}

// Paths keep no foreign keys (migration 0003): removals reach them through
// statement triggers, and a full load deletes the rows a removal raced.
TEST_CASE("store: removing a node deletes its paths, removing a relay unlinks them") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const int zone = prepare(db.url());
  dc::store::Store store(db.url());
  wire::NodeId a, b, c, r;
  for (auto* id : {&a, &b, &c, &r}) wire::random_bytes(id->bytes);
  store.insert_node(a, "a.w.example", zone, wire::SecretKey::random(), 0x64400001);
  store.insert_node(b, "b.w.example", zone, wire::SecretKey::random(), 0x64400002);
  store.insert_node(c, "c.w.example", zone, wire::SecretKey::random(), 0x64400003);
  store.insert_relay(r, "rs1", wire::SecretKey::random());
  auto path = [&](const wire::NodeId& ini, const wire::NodeId& resp, bool relayed) {
    dc::state::Path p;
    wire::random_bytes(p.id.bytes);
    p.initiator = ini;
    p.responder = resp;
    p.responder_fqdn = "x.w.example";
    p.state = dc::state::PathState::established;
    if (relayed) {
      p.route = wire::RouteType::relay;
      p.relay = r;
    }
    return p;
  };
  const auto ab = path(a, b, false), ca = path(c, a, true), bc = path(b, c, true);
  std::vector<dc::store::WriteOp> ops = {dc::store::PathWrite{ab}, dc::store::PathWrite{ca},
                                         dc::store::PathWrite{bc}};
  std::vector<const dc::store::WriteOp*> batch;
  for (const auto& op : ops) batch.push_back(&op);
  store.apply(batch);
  auto count = [&](const std::string& where) {
    pqxx::connection conn(db.url());
    pqxx::work tx(conn);
    return tx.exec1("SELECT count(*) FROM paths WHERE " + where)[0].as<int>();
  };
  REQUIRE(count("true") == 3);
  REQUIRE(count("relay_id IS NOT NULL") == 2);

  // a goes: both paths with a at one end go, as the cascade did.
  CHECK(store.remove_party(a, false));
  CHECK(count("true") == 1);
  CHECK(count("path_id = decode('" + bc.id.to_hex() + "', 'hex')") == 1);
  // The relay goes: its path stays, unlinked.
  CHECK(store.remove_party(r, true));
  CHECK(count("true") == 1);
  CHECK(count("relay_id IS NULL") == 1);

  // A row written for a node that is already gone (another DC process
  // wrote it just after the removal) is deleted by the next full load, and
  // one naming a removed relay is unlinked.
  const auto orphan = path(a, c, false), stale_relay = path(b, c, true);
  wire::random_bytes(r.bytes);  // a relay that never existed
  dc::state::Path stale = stale_relay;
  stale.relay = r;
  std::vector<dc::store::WriteOp> late = {dc::store::PathWrite{orphan},
                                          dc::store::PathWrite{stale}};
  std::vector<const dc::store::WriteOp*> late_batch;
  for (const auto& op : late) late_batch.push_back(&op);
  store.apply(late_batch);
  REQUIRE(count("true") == 3);
  const auto loaded = store.load_paths();
  CHECK(loaded.size() == 2);
  for (const auto& p : loaded) {
    CHECK(p.id != orphan.id);
    CHECK_FALSE(p.relay.has_value());
  }
  CHECK(count("true") == 2);
  CHECK(count("relay_id IS NULL") == 2);
}
