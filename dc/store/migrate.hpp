// SPDX-License-Identifier: MIT
// Schema migrations: brings a database up to the schema this binary was built
// with, using the migrations compiled into it (store/migration_table.hpp).
//
// Applied versions are recorded in schema_migrations.  Each migration runs in
// its own transaction; all of migrate() runs under a session-level advisory
// lock, so DC processes starting at once against one database take turns and
// every migration is applied exactly once.  A database newer than the binary
// is refused untouched (no downgrades): the operator must upgrade ntm-dc.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "store/migration_table.hpp"

namespace ntm::dc::store {

// Key of the advisory lock that serialises migrators: the first 8 bytes of
// SHA-256("ntm-dc migrate") read big-endian,
//   printf 'ntm-dc migrate' | sha256sum   ->  2cb18c50f86ea542...
// Fixed forever: two ntm-dc releases must agree on it.  Advisory locks are
// scoped to one database, so databases sharing a cluster do not contend.
inline constexpr std::int64_t kMigrateLockKey = 0x2cb18c50f86ea542;

// The database was migrated by a newer ntm-dc than this one.
class SchemaTooNew : public std::runtime_error {
 public:
  SchemaTooNew(int database_version, int binary_version);
  int database_version() const noexcept { return database_version_; }
  int binary_version() const noexcept { return binary_version_; }

 private:
  int database_version_;
  int binary_version_;
};

// schema_migrations disagrees with the binary's list (a gap in the recorded
// versions, or a version recorded under another name): someone edited or
// renumbered a migration after it was applied.  Nothing is changed.
class SchemaHistoryMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A migration's SQL failed; its transaction was rolled back and the versions
// before it stay applied.  what() names the migration and the server's error.
class MigrationFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MigrateResult {
  int from_version = 0;      // database version before
  int to_version = 0;        // database version after
  std::vector<int> applied;  // versions applied by this call, ascending
};

// The newest schema version this binary knows (its last embedded migration).
int binary_schema_version() noexcept;

// The newest version recorded in schema_migrations; 0 when the table does not
// exist (an empty database).  Opens and closes its own transaction.
int database_schema_version(pqxx::connection& conn);

// Applies every pending embedded migration.  Throws SchemaTooNew,
// SchemaHistoryMismatch or MigrationFailed; pqxx exceptions for a lost
// connection.  Must be called with no transaction open on conn.  Needs a
// session-level lock, so it does not work through a transaction-pooling proxy.
MigrateResult migrate(pqxx::connection& conn);

// Same with an explicit list, for tests (versions must run 1..N).
MigrateResult migrate(pqxx::connection& conn, std::span<const Migration> migrations);

// Connects to url (waiting up to ~5 s for a database that is still
// starting), migrates, and returns a one-line summary.
std::string migrate_url(const std::string& url);

// Whether a connection to url can be opened now.
bool can_connect(const std::string& url) noexcept;

// Throws std::invalid_argument unless versions run 1, 2, ... N without gaps
// or duplicates and every name is non-empty.  The build already enforces this
// for the embedded list; this guards hand-made lists.
void check_migration_sequence(std::span<const Migration> migrations);

}  // namespace ntm::dc::store
