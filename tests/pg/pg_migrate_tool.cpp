// SPDX-License-Identifier: MIT
// ntm_pg_migrate URL: applies the embedded migrations to the database at a
// libpq URL.  A developer tool for schema/update-snapshot.sh; the daemon
// migrates its own database at start-up.
#include <pqxx/pqxx>

#include <cstdio>
#include <exception>

#include "store/migrate.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LIBPQ_URL\n", argv[0]);
    return 2;
  }
  try {
    pqxx::connection conn(argv[1]);
    const auto r = ntm::dc::store::migrate(conn);
    std::printf("schema version %d -> %d (%zu applied)\n", r.from_version, r.to_version,
                r.applied.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntm_pg_migrate: %s\n", e.what());
    return 1;
  }
}
