// SPDX-License-Identifier: MIT
// store::migrate against a real database: fresh, repeated, concurrent, too
// new, tampered history and a failing migration.
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <latch>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "pg_test_db.hpp"
#include "store/migrate.hpp"

namespace store = ntm::dc::store;
using ntm::test::TestDatabase;

namespace {

constexpr const char* kSqlTables =
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename";
constexpr const char* kSqlHistory =
    "SELECT version, name, applied_at::text FROM schema_migrations ORDER BY version";
// Advisory locks on a bigint key show in pg_locks split into two oids.
constexpr const char* kSqlMigrateLocks =
    "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) "
    "FROM pg_locks WHERE locktype = 'advisory' AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = $1 AND objid = $2 AND objsubid = 1";

std::vector<std::string> column_strings(pqxx::connection& conn, const char* sql) {
  pqxx::read_transaction tx(conn);
  std::vector<std::string> out;
  for (const auto& row : tx.exec(sql)) {
    std::string line;
    for (const auto& field : row) line += (line.empty() ? "" : "|") + field.as<std::string>();
    out.push_back(line);
  }
  return out;
}

long count(pqxx::connection& conn, const std::string& sql) {
  pqxx::read_transaction tx(conn);
  return tx.exec1(sql)[0].as<long>();
}

// Fails unless the running transaction's session holds the migrate lock, so
// a migration can prove it runs under it.
constexpr const char* kAssertLockHeld =
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
    "AND pid = pg_backend_pid() AND granted) THEN RAISE EXCEPTION 'migrate lock not held'; "
    "END IF; END $$;";

const std::string kSlowFirst =
    std::string("CREATE TABLE t1 (x integer);") + kAssertLockHeld + "SELECT pg_sleep(1);";
const store::Migration kFakeMigrations[] = {
    {1, "slow_first", kSlowFirst},
    {2, "second", "CREATE TABLE t2 (x integer);"},
    {3, "third", "INSERT INTO t1 VALUES (3);"},
};

}  // namespace

TEST_CASE("binary schema version matches the embedded migrations") {
  const auto migrations = store::embedded_migrations();
  REQUIRE(!migrations.empty());
  CHECK(store::binary_schema_version() == static_cast<int>(migrations.size()));
  CHECK_NOTHROW(store::check_migration_sequence(migrations));
  CHECK(migrations[0].name == "init");
  CHECK(migrations[0].sql.find("CREATE TABLE nodes") != std::string_view::npos);
}

TEST_CASE("check_migration_sequence rejects gaps and duplicates") {
  const store::Migration gap[] = {{1, "a", "SELECT 1"}, {3, "c", "SELECT 1"}};
  const store::Migration dup[] = {{1, "a", "SELECT 1"}, {1, "b", "SELECT 1"}};
  const store::Migration unnamed[] = {{1, "", "SELECT 1"}};
  CHECK_THROWS_AS(store::check_migration_sequence(gap), std::invalid_argument);
  CHECK_THROWS_AS(store::check_migration_sequence(dup), std::invalid_argument);
  CHECK_THROWS_AS(store::check_migration_sequence(unnamed), std::invalid_argument);
}

TEST_CASE("migrate on an empty database reaches the binary's version") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  pqxx::connection conn(db.url());
  CHECK(store::database_schema_version(conn) == 0);

  const store::MigrateResult r = store::migrate(conn);
  CHECK(r.from_version == 0);
  CHECK(r.to_version == store::binary_schema_version());
  CHECK(r.applied.size() == store::embedded_migrations().size());
  CHECK(store::database_schema_version(conn) == store::binary_schema_version());

  const auto tables = column_strings(conn, kSqlTables);
  for (const char* t : {"nodes", "paths", "relays", "schema_migrations", "zones"}) {
    CHECK_MESSAGE(std::find(tables.begin(), tables.end(), t) != tables.end(), "missing table ", t);
  }
  const auto history =
      column_strings(conn, "SELECT version, name FROM schema_migrations ORDER BY version");
  REQUIRE(history.size() == store::embedded_migrations().size());
  CHECK(history[0] == "1|init");
}

TEST_CASE("migrate twice is a no-op") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  pqxx::connection conn(db.url());
  store::migrate(conn);
  const auto before = column_strings(conn, kSqlHistory);

  const store::MigrateResult again = store::migrate(conn);
  CHECK(again.applied.empty());
  CHECK(again.from_version == store::binary_schema_version());
  CHECK(again.to_version == store::binary_schema_version());
  CHECK(column_strings(conn, kSqlHistory) == before);  // applied_at untouched too
}

TEST_CASE("concurrent migrators take turns and apply each migration once") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  constexpr int kMigrators = 4;
  std::vector<store::MigrateResult> results(kMigrators);
  std::vector<std::string> errors(kMigrators);
  std::latch go(kMigrators + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection conn(db.url());  // one connection (session) per "process"
        go.arrive_and_wait();
        results[static_cast<std::size_t>(i)] = store::migrate(conn, kFakeMigrations);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(i)] = e.what();
      }
    });
  }
  go.arrive_and_wait();

  // While the first migrator sleeps inside migration 1, the others must be
  // queued on the lock: one holder, kMigrators - 1 waiters.
  pqxx::connection observer(db.url());
  observer.prepare("migrate_locks", kSqlMigrateLocks);
  const auto classid =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(store::kMigrateLockKey) >> 32);
  const auto objid =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(store::kMigrateLockKey) & 0xffffffffu);
  bool saw_queue = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!saw_queue && std::chrono::steady_clock::now() < deadline) {
    pqxx::read_transaction tx(observer);
    const pqxx::row row = tx.exec_prepared1("migrate_locks", classid, objid);
    saw_queue = row[0].as<long>() == 1 && row[1].as<long>() == kMigrators - 1;
    if (!saw_queue) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : threads) t.join();
  CHECK_MESSAGE(saw_queue, "never saw one lock holder and the other migrators waiting");

  std::size_t total_applied = 0;
  int full_runs = 0;
  for (int i = 0; i < kMigrators; ++i) {
    const auto idx = static_cast<std::size_t>(i);
    CHECK_MESSAGE(errors[idx].empty(), "migrator ", i, ": ", errors[idx]);
    CHECK(results[idx].to_version == 3);
    total_applied += results[idx].applied.size();
    if (results[idx].applied.size() == 3) ++full_runs;
  }
  CHECK(total_applied == 3);
  CHECK(full_runs == 1);
  pqxx::connection conn(db.url());
  CHECK(count(conn, "SELECT count(*) FROM schema_migrations") == 3);
  CHECK(count(conn, "SELECT count(*) FROM t1") == 1);  // migration 3 ran once
}

TEST_CASE("concurrent migrators with the embedded migrations") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  constexpr int kMigrators = 2;
  std::vector<std::string> errors(kMigrators);
  std::vector<std::size_t> applied(kMigrators);
  std::latch go(kMigrators);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection conn(db.url());
        go.arrive_and_wait();
        applied[i] = store::migrate(conn).applied.size();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK_MESSAGE(e.empty(), e);
  CHECK(applied[0] + applied[1] == store::embedded_migrations().size());
  pqxx::connection conn(db.url());
  CHECK(count(conn, "SELECT count(*) FROM schema_migrations") ==
        static_cast<long>(store::embedded_migrations().size()));
}

TEST_CASE("a database newer than the binary is refused and left untouched") {
  NTM_REQUIRE_PG_OR_SKIP();
  const int newer = store::binary_schema_version() + 2;

  SUBCASE("fully migrated database with a future version recorded") {
    TestDatabase db;
    pqxx::connection conn(db.url());
    store::migrate(conn);
    for (int v = store::binary_schema_version() + 1; v <= newer; ++v) {
      pqxx::work tx(conn);
      tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", v,
                      "future_" + std::to_string(v));
      tx.commit();
    }
    const auto tables_before = column_strings(conn, kSqlTables);
    const auto history_before = column_strings(conn, kSqlHistory);

    try {
      store::migrate(conn);
      FAIL("migrate accepted a newer database");
    } catch (const store::SchemaTooNew& e) {
      CHECK(e.database_version() == newer);
      CHECK(e.binary_version() == store::binary_schema_version());
      const std::string expected =
          "database schema version " + std::to_string(newer) + " is newer than this ntm-dc (" +
          std::to_string(store::binary_schema_version()) + "); upgrade ntm-dc";
      CHECK(std::string(e.what()) == expected);
    }
    CHECK(column_strings(conn, kSqlTables) == tables_before);
    CHECK(column_strings(conn, kSqlHistory) == history_before);
    CHECK(store::database_schema_version(conn) == newer);
  }

  SUBCASE("only the history table exists: no migration runs") {
    TestDatabase db;
    pqxx::connection conn(db.url());
    {
      pqxx::work tx(conn);
      tx.exec0(
          "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
          "applied_at timestamptz NOT NULL DEFAULT now())");
      tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')", newer);
      tx.commit();
    }
    CHECK_THROWS_AS(store::migrate(conn), store::SchemaTooNew);
    CHECK(column_strings(conn, kSqlTables) == std::vector<std::string>{"schema_migrations"});
  }
}

TEST_CASE("a tampered history is refused") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  pqxx::connection conn(db.url());
  store::migrate(conn, std::span(kFakeMigrations, 2));
  {
    pqxx::work tx(conn);
    tx.exec0("UPDATE schema_migrations SET name = 'renamed' WHERE version = 2");
    tx.commit();
  }
  CHECK_THROWS_AS(store::migrate(conn, kFakeMigrations), store::SchemaHistoryMismatch);
  CHECK(store::database_schema_version(conn) == 2);
}

TEST_CASE("a failing migration is rolled back and releases the lock") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const store::Migration failing[] = {
      {1, "ok", "CREATE TABLE t1 (x integer);"},
      {2, "broken", "CREATE TABLE t2 (x integer); SELECT no_such_function();"},
  };
  pqxx::connection conn(db.url());
  try {
    store::migrate(conn, failing);
    FAIL("broken migration did not throw");
  } catch (const store::MigrationFailed& e) {
    CHECK(std::string(e.what()).find("migration 2 (broken)") != std::string::npos);
    CHECK(std::string(e.what()).find("no_such_function") != std::string::npos);
  }
  CHECK(store::database_schema_version(conn) == 1);
  CHECK(column_strings(conn, kSqlTables) == std::vector<std::string>{"schema_migrations", "t1"});

  pqxx::connection other(db.url());
  pqxx::nontransaction tx(other);
  CHECK(tx.exec_params1("SELECT pg_try_advisory_lock($1)", store::kMigrateLockKey)[0].as<bool>());
  tx.exec_params("SELECT pg_advisory_unlock($1)", store::kMigrateLockKey);
}
