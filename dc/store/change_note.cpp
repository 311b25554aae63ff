// SPDX-License-Identifier: MIT
#include "store/change_note.hpp"

#include <array>

#include "ntm/wire/messages.hpp"
#include "ntm/wire/secret_key.hpp"

namespace ntm::dc::store {

namespace {

// The next space-separated word; an empty word (two spaces, a leading or
// trailing space) makes the payload invalid.
bool next_word(std::string_view& rest, std::string_view& word) {
  if (rest.empty()) return false;
  const auto space = rest.find(' ');
  word = rest.substr(0, space);
  if (word.empty()) return false;
  if (space == std::string_view::npos) {
    rest = {};
  } else {
    rest.remove_prefix(space + 1);
    if (rest.empty()) return false;  // a trailing space
  }
  return true;
}

bool valid_sender(std::string_view s) {
  if (s.size() != kSenderHexLen) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

template <class Id>
bool read_ids(std::string_view rest, std::vector<Id>& out) {
  std::string_view word;
  while (!rest.empty()) {
    if (out.size() == kMaxIdsPerNote || !next_word(rest, word)) return false;
    Id id;
    if (!Id::from_hex(word, id)) return false;
    out.push_back(id);
  }
  return !out.empty();
}

template <class Id>
std::vector<std::string> notes(std::string_view word, std::string_view sender,
                               const std::vector<Id>& ids) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ids.size(); i += kMaxIdsPerNote) {
    std::string s(word);
    s += ' ';
    s += sender;
    for (std::size_t j = i; j < ids.size() && j < i + kMaxIdsPerNote; ++j) {
      s += ' ';
      s += ids[j].to_hex();
    }
    out.push_back(std::move(s));
  }
  return out;
}

// One reg entry: <id>/<nat>/<observed>/<local>,<local>... ("-" for none).
std::string registration_entry(const RegistrationWrite& w) {
  std::string s = w.id.to_hex();
  s += '/';
  s += static_cast<char>('0' + (w.behind_nat ? 1 : 0) + (w.symmetric_nat ? 2 : 0));
  s += '/';
  s += w.observed.empty() ? "-" : endpoint_text(w.observed);
  s += '/';
  if (w.local.empty()) s += '-';
  for (std::size_t i = 0; i < w.local.size(); ++i) {
    if (i) s += ',';
    s += endpoint_text(w.local[i]);
  }
  return s;
}

// The next field up to `sep` (the last field: up to the end).
bool next_field(std::string_view& rest, char sep, std::string_view& field) {
  const auto at = rest.find(sep);
  field = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return !field.empty();
}

bool parse_registration_entry(std::string_view entry, RegistrationWrite& w) {
  std::string_view id, nat, observed, local;
  if (!next_field(entry, '/', id) || !next_field(entry, '/', nat) ||
      !next_field(entry, '/', observed) || !next_field(entry, '/', local) || !entry.empty())
    return false;
  if (!wire::NodeId::from_hex(id, w.id)) return false;
  if (nat.size() != 1 || nat[0] < '0' || nat[0] > '3') return false;
  w.behind_nat = (nat[0] - '0') & 1;
  w.symmetric_nat = (nat[0] - '0') & 2;
  if (observed != "-" && (!parse_endpoint_text(observed, w.observed) || w.observed.empty()))
    return false;
  if (local == "-") return true;
  // A trailing or doubled comma leaves an empty item: refused.
  while (true) {
    const auto comma = local.find(',');
    wire::Endpoint e;
    if (w.local.size() == wire::kMaxEndpoints ||
        !parse_endpoint_text(local.substr(0, comma), e) || e.empty())
      return false;
    w.local.push_back(e);
    if (comma == std::string_view::npos) return true;
    local.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<ChangeNote> parse_change_note(std::string_view payload) {
  std::string_view rest = payload, word;
  if (!next_word(rest, word)) return std::nullopt;
  ChangeNote n;
  if (word == "node" || word == "relay") {
    n.kind = ChangeNote::Kind::party;
    std::string_view id_text;
    wire::NodeId id;
    if (!next_word(rest, id_text) || !rest.empty() || !wire::NodeId::from_hex(id_text, id))
      return std::nullopt;
    n.parties.push_back(id);
    return n;
  }
  if (word != "reg" && word != "parties" && word != "seen" && word != "paths")
    return std::nullopt;
  if (payload.size() > kMaxNoteBytes) return std::nullopt;
  std::string_view sender;
  if (!next_word(rest, sender) || !valid_sender(sender)) return std::nullopt;
  n.sender = std::string(sender);
  if (word == "reg") {
    n.kind = ChangeNote::Kind::registrations;
    std::string_view entry;
    while (!rest.empty()) {
      if (n.registrations.size() == kMaxIdsPerNote || !next_word(rest, entry)) return std::nullopt;
      RegistrationWrite w;
      if (!parse_registration_entry(entry, w)) return std::nullopt;
      n.registrations.push_back(std::move(w));
    }
    if (n.registrations.empty()) return std::nullopt;
  } else if (word != "paths") {
    n.kind = word == "seen" ? ChangeNote::Kind::seen : ChangeNote::Kind::parties;
    if (!read_ids(rest, n.parties)) return std::nullopt;
  } else {
    n.kind = ChangeNote::Kind::paths;
    if (!read_ids(rest, n.paths)) return std::nullopt;
  }
  return n;
}

std::vector<std::string> party_notes(std::string_view sender, const std::vector<wire::NodeId>& ids) {
  return notes("parties", sender, ids);
}

std::vector<std::string> registration_notes(std::string_view sender,
                                            const std::vector<const RegistrationWrite*>& regs,
                                            std::vector<wire::NodeId>& too_big) {
  std::vector<std::string> out;
  const std::string head = "reg " + std::string(sender);
  std::string s;
  std::size_t count = 0;
  for (const RegistrationWrite* w : regs) {
    const std::string entry = registration_entry(*w);
    if (head.size() + 1 + entry.size() > kMaxNoteBytes) {
      too_big.push_back(w->id);
      continue;
    }
    if (count == kMaxIdsPerNote || s.size() + 1 + entry.size() > kMaxNoteBytes) {
      out.push_back(std::move(s));
      count = 0;
    }
    if (count == 0) s = head;
    s += ' ';
    s += entry;
    ++count;
  }
  if (count) out.push_back(std::move(s));
  return out;
}

std::vector<std::string> seen_notes(std::string_view sender, const std::vector<wire::NodeId>& ids) {
  return notes("seen", sender, ids);
}

std::vector<std::string> path_notes(std::string_view sender, const std::vector<wire::PathId>& ids) {
  return notes("paths", sender, ids);
}

std::string new_sender_token() {
  std::array<std::uint8_t, kSenderHexLen / 2> b{};
  wire::random_bytes(b);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += kHex[x >> 4];
    s += kHex[x & 15];
  }
  return s;
}

}  // namespace ntm::dc::store
