// SPDX-License-Identifier: MIT
// The schema migrations compiled into the binary.  The table is generated at
// build time from schema/migrations/NNNN_name.sql by
// dc/store/embed_migrations.cmake, which also rejects gaps and duplicates.
#pragma once

#include <span>
#include <string_view>

namespace ntm::dc::store {

struct Migration {
  int version;            // NNNN from the file name; 1, 2, 3, ... without gaps
  std::string_view name;  // the file name's "name" part, recorded in schema_migrations
  std::string_view sql;   // the file's text, run as one multi-statement batch
};

// Every embedded migration, ordered by version (element i has version i + 1).
std::span<const Migration> embedded_migrations() noexcept;

}  // namespace ntm::dc::store
