// SPDX-License-Identifier: MIT
#include "store/change_note.hpp"

#include <array>

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
  if (word != "parties" && word != "seen" && word != "paths") return std::nullopt;
  std::string_view sender;
  if (!next_word(rest, sender) || !valid_sender(sender)) return std::nullopt;
  n.sender = std::string(sender);
  if (word != "paths") {
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
