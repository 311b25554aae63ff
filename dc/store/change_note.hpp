// SPDX-License-Identifier: MIT
// The payloads of the DC's change notifications (PostgreSQL NOTIFY on
// channel ntm_changes): what changed, so that every other DC process of the
// cluster reloads just those rows (docs/operations.md "DC cluster").
//
//   node <id>                 enrollment or removal of a node (CLI)
//   relay <id>                the same for a relay
//   reg <sender> <entry>...   node registrations, carried whole (writer):
//                             entry = <id>/<nat>/<observed>/<local>,<local>...
//                             nat: 0 none, 1 behind NAT, 3 symmetric NAT (a
//                             digit: bit 0 behind NAT, bit 1 symmetric);
//                             observed and local as "addr:port" ("[v6]:port"),
//                             "-" for none
//   parties <sender> <id>...  other writes to party rows (relay registrations,
//                             offline, a node registered and dropped in one
//                             batch): the receiver reloads the rows (writer)
//   seen <sender> <id>...     liveness and relay load only (writer, soft state)
//   pathw <sender> <entry>... path writes, carried whole (writer): entry =
//                             <id>/<initiator>/<responder>/<fqdn>/<general>/
//                             <route>/<first>/<relay>/<relay endpoint>/
//                             <key epoch>/<state>/<created ms>/<updated ms>/
//                             <remote>/<initiator view>/<responder view>,
//                             "-" for an empty field: the columns the paths
//                             table holds, no more (remote: 0 or 1; a view:
//                             an IPv4 address, "-" when not chosen)
//   gone <sender> <id>...     paths deleted (writer)
//   paths <sender> <id>...    path writes that do not fit a pathw entry: the
//                             receiver reloads them, erasing those it does
//                             not find (writer)
//
// IDs are 32 hex digits; <sender> is the writing process's
// 16-hex-digit token, so that a process ignores its own notes.  A payload
// stays under PostgreSQL's 8000-byte limit: at most kMaxIdsPerNote IDs or
// entries, and reg notes are cut by size as well.
//
// Registrations are carried rather than named because they are the bulk of
// a cluster's writes: a reload per note cost PostgreSQL more than the
// registrations themselves (docs/benchmarks.md, issue 7).  Nothing secret
// is in them: addresses only, which any member reads from the table anyway.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ntm/wire/types.hpp"
#include "store/records.hpp"

namespace ntm::dc::store {

struct ChangeNote {
  enum class Kind { party, registrations, parties, seen, path_rows, gone, paths };
  Kind kind = Kind::party;
  std::string sender;                 // empty for party (the CLI's notes)
  std::vector<wire::NodeId> parties;  // party, parties, seen
  std::vector<wire::PathId> paths;    // gone, paths
  std::vector<RegistrationWrite> registrations;  // registrations (relay always false)
  std::vector<state::Path> path_rows;            // path_rows (the table's columns only)
};

inline constexpr std::size_t kMaxIdsPerNote = 200;  // 200 x 33 + 26 bytes < 8000
inline constexpr std::size_t kSenderHexLen = 16;
inline constexpr std::size_t kMaxNoteBytes = 7999;  // PostgreSQL refuses 8000 and more

// nullopt for anything that is not exactly one of the forms above (unknown
// word, bad or missing ID, bad sender, too many IDs, stray spaces).
std::optional<ChangeNote> parse_change_note(std::string_view payload);
// Whether payload is a writer's note whose sender token is sender, judged
// from its first two words only: a process skips its own notes without
// parsing them (at 5,000 Directions/s a single DC gets about 300 full
// notes a second back from itself).
bool note_from(std::string_view payload, std::string_view sender) noexcept;

// The payloads for a batch's changed rows, kMaxIdsPerNote IDs each.
std::vector<std::string> party_notes(std::string_view sender, const std::vector<wire::NodeId>& ids);
// Node registrations (relay == false), as few reg notes as fit; an entry
// that could not fit even alone (impossible within the wire's bounds) is
// returned in `too_big` for a parties note instead.
std::vector<std::string> registration_notes(std::string_view sender,
                                            const std::vector<const RegistrationWrite*>& regs,
                                            std::vector<wire::NodeId>& too_big);
// Path writes, as few pathw notes as fit; a path whose fields cannot be
// carried (an FQDN with characters a note cannot hold) is returned in
// `reload` for a paths note instead.
std::vector<std::string> path_row_notes(std::string_view sender,
                                        const std::vector<const state::Path*>& rows,
                                        std::vector<wire::PathId>& reload);
std::vector<std::string> gone_notes(std::string_view sender, const std::vector<wire::PathId>& ids);
std::vector<std::string> seen_notes(std::string_view sender, const std::vector<wire::NodeId>& ids);
std::vector<std::string> path_notes(std::string_view sender, const std::vector<wire::PathId>& ids);

// A random sender token for this process.
std::string new_sender_token();

}  // namespace ntm::dc::store
