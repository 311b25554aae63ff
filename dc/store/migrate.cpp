// SPDX-License-Identifier: MIT
// Schema migrations under an advisory lock; see migrate.hpp.
#include "store/migrate.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include <chrono>
#include <thread>

#include <string>
#include <utility>
#include <vector>

namespace ntm::dc::store {

namespace {

struct NamedSql {
  const char* name;  // prepared-statement name, also what shows in logs
  const char* sql;
};

// Session-level, not transaction-level: the lock must span several
// transactions (one per migration).
constexpr NamedSql kLock{"ntm_migrate_lock", "SELECT pg_advisory_lock($1)"};
constexpr NamedSql kUnlock{"ntm_migrate_unlock", "SELECT pg_advisory_unlock($1)"};
// to_regclass resolves through search_path exactly like the unqualified names
// in the migrations do, and yields NULL instead of an error when absent.
constexpr NamedSql kTableExists{"ntm_migrate_table_exists",
                                "SELECT to_regclass('schema_migrations') IS NOT NULL"};
constexpr NamedSql kHistory{"ntm_migrate_history",
                            "SELECT version, name FROM schema_migrations ORDER BY version"};
constexpr NamedSql kMaxVersion{"ntm_migrate_max_version",
                               "SELECT coalesce(max(version), 0) FROM schema_migrations"};
constexpr NamedSql kRecord{"ntm_migrate_record",
                           "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"};
// DDL takes no parameters, so it runs unprepared.
constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

// Idempotent: libpqxx 6 accepts a repeated prepare() with the same SQL.
void prepare(pqxx::connection& conn, const NamedSql& q) {
  conn.prepare(q.name, q.sql);
}

bool table_exists(pqxx::transaction_base& tx) {
  return tx.exec_prepared1(kTableExists.name)[0].as<bool>();
}

struct Recorded {
  int version;
  std::string name;
};

std::vector<Recorded> read_history(pqxx::connection& conn) {
  prepare(conn, kTableExists);
  prepare(conn, kHistory);
  pqxx::read_transaction tx(conn, "ntm_migrate_read_history");
  std::vector<Recorded> history;
  if (!table_exists(tx)) return history;
  for (const auto& row : tx.exec_prepared(kHistory.name)) {
    history.push_back({row[0].as<int>(), row[1].as<std::string>()});
  }
  return history;
}

// Holds the migration advisory lock for its lifetime.
class MigrateLock {
 public:
  explicit MigrateLock(pqxx::connection& conn) : conn_(conn) {
    prepare(conn_, kLock);
    prepare(conn_, kUnlock);
    pqxx::nontransaction tx(conn_, "ntm_migrate_lock");
    tx.exec_prepared(kLock.name, kMigrateLockKey);
    backend_pid_ = conn_.backendpid();
  }
  ~MigrateLock() {
    try {
      pqxx::nontransaction tx(conn_, "ntm_migrate_unlock");
      tx.exec_prepared(kUnlock.name, kMigrateLockKey);
    } catch (const std::exception& e) {
      // The server drops session locks when the session ends, so a lost
      // connection cannot leave the lock held.
      spdlog::warn("schema: releasing the migrate lock failed: {}", e.what());
    }
  }
  MigrateLock(const MigrateLock&) = delete;
  MigrateLock& operator=(const MigrateLock&) = delete;

  // libpqxx 6 silently reconnects a broken connection when the next
  // transaction begins; the new session would not hold the lock.
  void check_still_held() const {
    if (conn_.backendpid() != backend_pid_) {
      throw pqxx::broken_connection(
          "schema: connection was re-established during migration; "
          "the migrate lock was lost");
    }
  }

 private:
  pqxx::connection& conn_;
  int backend_pid_ = 0;
};

void check_history(const std::vector<Recorded>& history, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < history.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    const Recorded& r = history[i];
    if (r.version != expected) {
      throw SchemaHistoryMismatch("schema_migrations lacks version " + std::to_string(expected) +
                                  " but records version " + std::to_string(r.version) +
                                  "; the migration history was altered");
    }
    const Migration& m = migrations[i];
    if (r.name != m.name) {
      throw SchemaHistoryMismatch("schema_migrations records version " + std::to_string(r.version) +
                                  " as '" + r.name + "' but this ntm-dc calls it '" +
                                  std::string(m.name) +
                                  "'; migrations must never be renamed or renumbered");
    }
  }
}

void apply_one(pqxx::connection& conn, const Migration& m) {
  try {
    prepare(conn, kRecord);
    pqxx::work tx(conn, "ntm_migrate_apply");
    // One batch through the simple query protocol: a migration file may hold
    // many statements.  It must not contain BEGIN/COMMIT of its own.
    tx.exec(std::string(m.sql), "migration " + std::to_string(m.version));
    tx.exec_prepared(kRecord.name, m.version, std::string(m.name));
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    throw;  // not the migration's fault; the caller may retry
  } catch (const pqxx::in_doubt_error&) {
    throw;  // the commit's outcome is unknown, so "rolled back" would be a lie
  } catch (const std::exception& e) {
    throw MigrationFailed("schema migration " + std::to_string(m.version) + " (" +
                          std::string(m.name) + ") failed and was rolled back: " + e.what());
  }
}

}  // namespace

SchemaTooNew::SchemaTooNew(int database_version, int binary_version)
    : std::runtime_error("database schema version " + std::to_string(database_version) +
                         " is newer than this ntm-dc (" + std::to_string(binary_version) +
                         "); upgrade ntm-dc"),
      database_version_(database_version),
      binary_version_(binary_version) {}

int binary_schema_version() noexcept {
  const auto migrations = embedded_migrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

int database_schema_version(pqxx::connection& conn) {
  prepare(conn, kTableExists);
  prepare(conn, kMaxVersion);
  pqxx::read_transaction tx(conn, "ntm_schema_version");
  if (!table_exists(tx)) return 0;
  return tx.exec_prepared1(kMaxVersion.name)[0].as<int>();
}

void check_migration_sequence(std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    if (migrations[i].version != expected) {
      throw std::invalid_argument("migration list: expected version " + std::to_string(expected) +
                                  " at position " + std::to_string(i) + ", found " +
                                  std::to_string(migrations[i].version) + " (gap or duplicate)");
    }
    if (migrations[i].name.empty()) {
      throw std::invalid_argument("migration list: version " + std::to_string(expected) +
                                  " has no name");
    }
  }
}

MigrateResult migrate(pqxx::connection& conn) {
  return migrate(conn, embedded_migrations());
}

MigrateResult migrate(pqxx::connection& conn, std::span<const Migration> migrations) {
  check_migration_sequence(migrations);
  const int binary_version = migrations.empty() ? 0 : migrations.back().version;

  MigrateLock lock(conn);
  // Read under the lock: another migrator may have finished while we waited.
  const std::vector<Recorded> history = read_history(conn);
  const int db_version = history.empty() ? 0 : history.back().version;
  if (db_version > binary_version) throw SchemaTooNew(db_version, binary_version);
  check_history(history, migrations);

  MigrateResult result;
  result.from_version = db_version;
  result.to_version = db_version;
  if (db_version == binary_version) return result;

  {
    lock.check_still_held();
    pqxx::work tx(conn, "ntm_migrate_create_table");
    tx.exec(kCreateTable);
    tx.commit();
  }
  for (const Migration& m : migrations.subspan(static_cast<std::size_t>(db_version))) {
    lock.check_still_held();
    apply_one(conn, m);
    spdlog::info("schema: applied migration {:04}_{}", m.version, m.name);
    result.applied.push_back(m.version);
    result.to_version = m.version;
  }
  return result;
}

std::string migrate_url(const std::string& url) {
  for (int attempt = 0;; ++attempt) {
    try {
      pqxx::connection c(url);
      const auto r = migrate(c);
      return "schema version " + std::to_string(r.from_version) + " -> " +
             std::to_string(r.to_version) + " (" + std::to_string(r.applied.size()) +
             " migrations applied)";
    } catch (const pqxx::broken_connection&) {
      if (attempt >= 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
}

bool can_connect(const std::string& url) noexcept {
  try {
    pqxx::connection c(url);
    return c.is_open();
  } catch (...) {
    return false;
  }
}

}  // namespace ntm::dc::store
