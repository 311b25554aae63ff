// SPDX-License-Identifier: MIT
// The payloads of the DC's change notifications (PostgreSQL NOTIFY on
// channel ntm_changes): what changed, so that every other DC process of the
// cluster reloads just those rows (docs/operations.md "DC cluster").
//
//   node <id>                 enrollment or removal of a node (CLI)
//   relay <id>                the same for a relay
//   parties <sender> <id>...  registrations, symmetric NAT, offline: what the
//                             member a party registered with writes (writer)
//   seen <sender> <id>...     liveness and relay load only (writer, soft state)
//   paths <sender> <id>...    path writes and deletions (writer)
//
// IDs are 32 hex digits; <sender> is the writing process's
// 16-hex-digit token, so that a process ignores its own notes.  A payload
// stays under PostgreSQL's 8000-byte limit: at most kMaxIdsPerNote IDs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/wire/types.hpp"

namespace ntm::dc::store {

struct ChangeNote {
  enum class Kind { party, parties, seen, paths };
  Kind kind = Kind::party;
  std::string sender;                 // empty for party (the CLI's notes)
  std::vector<wire::NodeId> parties;  // party, parties, seen
  std::vector<wire::PathId> paths;    // paths
};

inline constexpr std::size_t kMaxIdsPerNote = 200;  // 200 x 33 + 26 bytes < 8000
inline constexpr std::size_t kSenderHexLen = 16;

// nullopt for anything that is not exactly one of the forms above (unknown
// word, bad or missing ID, bad sender, too many IDs, stray spaces).
std::optional<ChangeNote> parse_change_note(std::string_view payload);

// The payloads for a batch's changed rows, kMaxIdsPerNote IDs each.
std::vector<std::string> party_notes(std::string_view sender, const std::vector<wire::NodeId>& ids);
std::vector<std::string> seen_notes(std::string_view sender, const std::vector<wire::NodeId>& ids);
std::vector<std::string> path_notes(std::string_view sender, const std::vector<wire::PathId>& ids);

// A random sender token for this process.
std::string new_sender_token();

}  // namespace ntm::dc::store
