// SPDX-License-Identifier: MIT
// The DC cluster's notification payloads (dc/store/change_note): whatever
// arrives on ntm_changes.  An accepted payload must re-encode to itself
// (the writer's notes are the only other form), stay under PostgreSQL's
// 8000-byte limit, and name at most kMaxIdsPerNote IDs, registrations or paths.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/messages.hpp"
#include "store/change_note.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ntm::dc::store::ChangeNote;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto note = ntm::dc::store::parse_change_note(in);
  // The listener's shortcut for its own notes must agree with the parser:
  // whatever parses with a sender is "from" exactly that sender.
  if (note && !note->sender.empty()) {
    NTM_FUZZ_CHECK(ntm::dc::store::note_from(in, note->sender));
    NTM_FUZZ_CHECK(!ntm::dc::store::note_from(in, "ffffffffffffffff") ||
                   note->sender == "ffffffffffffffff");
  }
  if (note && note->sender.empty()) NTM_FUZZ_CHECK(!ntm::dc::store::note_from(in, "0123456789abcdef"));
  if (!note) {
    (void)ntm::dc::store::note_from(in, "0123456789abcdef");
    return 0;
  }
  NTM_FUZZ_CHECK(size < 8000);
  switch (note->kind) {
    case ChangeNote::Kind::party:
      NTM_FUZZ_CHECK(note->parties.size() == 1 && note->sender.empty() && note->paths.empty());
      break;
    case ChangeNote::Kind::registrations: {
      NTM_FUZZ_CHECK(!note->registrations.empty() && note->parties.empty() && note->paths.empty());
      NTM_FUZZ_CHECK(note->registrations.size() <= ntm::dc::store::kMaxIdsPerNote);
      std::vector<const ntm::dc::store::RegistrationWrite*> regs;
      for (const auto& r : note->registrations) {
        NTM_FUZZ_CHECK(!r.relay && r.local.size() <= ntm::wire::kMaxEndpoints);
        regs.push_back(&r);
      }
      std::vector<ntm::wire::NodeId> too_big;
      const auto again = ntm::dc::store::registration_notes(note->sender, regs, too_big);
      // The writer's form is never longer (lower-case hex, canonical
      // addresses), so it fits one note again.
      NTM_FUZZ_CHECK(again.size() == 1 && too_big.empty());
      const auto reparsed = ntm::dc::store::parse_change_note(again[0]);
      NTM_FUZZ_CHECK(reparsed && reparsed->registrations == note->registrations &&
                     reparsed->sender == note->sender);
      break;
    }
    case ChangeNote::Kind::path_rows: {
      NTM_FUZZ_CHECK(!note->path_rows.empty() && note->parties.empty() && note->paths.empty());
      NTM_FUZZ_CHECK(note->path_rows.size() <= ntm::dc::store::kMaxIdsPerNote);
      std::vector<const ntm::dc::state::Path*> rows;
      for (const auto& p : note->path_rows) rows.push_back(&p);
      std::vector<ntm::wire::PathId> reload;
      const auto again = ntm::dc::store::path_row_notes(note->sender, rows, reload);
      // Every accepted name is carriable, and the writer's form is never
      // longer than what was accepted.
      NTM_FUZZ_CHECK(again.size() == 1 && reload.empty());
      const auto reparsed = ntm::dc::store::parse_change_note(again[0]);
      NTM_FUZZ_CHECK(reparsed && reparsed->path_rows.size() == note->path_rows.size());
      // Encoding is a function of the table's columns: equal text, equal rows.
      std::vector<const ntm::dc::state::Path*> rows2;
      for (const auto& p : reparsed->path_rows) rows2.push_back(&p);
      const auto third = ntm::dc::store::path_row_notes(note->sender, rows2, reload);
      NTM_FUZZ_CHECK(third.size() == 1 && third[0] == again[0]);
      break;
    }
    case ChangeNote::Kind::parties:
    case ChangeNote::Kind::seen: {
      NTM_FUZZ_CHECK(!note->parties.empty() && note->paths.empty());
      NTM_FUZZ_CHECK(note->parties.size() <= ntm::dc::store::kMaxIdsPerNote);
      const auto again = note->kind == ChangeNote::Kind::seen
                             ? ntm::dc::store::seen_notes(note->sender, note->parties)
                             : ntm::dc::store::party_notes(note->sender, note->parties);
      NTM_FUZZ_CHECK(again.size() == 1);
      // Hex digits may come in either case; the writer writes lower case.
      const auto reparsed = ntm::dc::store::parse_change_note(again[0]);
      NTM_FUZZ_CHECK(reparsed && reparsed->parties == note->parties &&
                     reparsed->sender == note->sender && reparsed->kind == note->kind);
      break;
    }
    case ChangeNote::Kind::gone:
    case ChangeNote::Kind::paths: {
      NTM_FUZZ_CHECK(!note->paths.empty() && note->parties.empty());
      NTM_FUZZ_CHECK(note->paths.size() <= ntm::dc::store::kMaxIdsPerNote);
      const auto again = note->kind == ChangeNote::Kind::gone
                             ? ntm::dc::store::gone_notes(note->sender, note->paths)
                             : ntm::dc::store::path_notes(note->sender, note->paths);
      NTM_FUZZ_CHECK(again.size() == 1);
      const auto reparsed = ntm::dc::store::parse_change_note(again[0]);
      NTM_FUZZ_CHECK(reparsed && reparsed->paths == note->paths &&
                     reparsed->sender == note->sender && reparsed->kind == note->kind);
      break;
    }
  }
  return 0;
}
