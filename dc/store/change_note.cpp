// SPDX-License-Identifier: MIT
#include "store/change_note.hpp"

#include <array>
#include <charconv>

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

// One reg entry: <id>/<nat>/<observed>/<local>,<local>... ("-" for none),
// then /<instance>:<counter> in hex when the message's are known (a note
// from an older member has no such field).
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
  if (w.counter) {
    char buf[32];
    char* end = buf;
    *end++ = '/';
    end = std::to_chars(end, buf + sizeof buf, w.instance, 16).ptr;
    *end++ = ':';
    end = std::to_chars(end, buf + sizeof buf, w.counter, 16).ptr;
    s.append(buf, end);
  }
  return s;
}

bool parse_hex(std::string_view text, std::size_t max_digits, std::uint64_t& out) {
  if (text.empty() || text.size() > max_digits) return false;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc{} && p == text.data() + text.size();
}

// The next field up to `sep` (the last field: up to the end).
bool next_field(std::string_view& rest, char sep, std::string_view& field) {
  const auto at = rest.find(sep);
  field = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return !field.empty();
}

// Every field is non-empty, so an entry never ends in its separator; one
// that does has an empty last field, which next_field cannot tell from no
// field at all.
bool ends_in_separator(std::string_view entry) { return !entry.empty() && entry.back() == '/'; }

bool parse_registration_entry(std::string_view entry, RegistrationWrite& w) {
  if (ends_in_separator(entry)) return false;
  std::string_view id, nat, observed, local, seen;
  if (!next_field(entry, '/', id) || !next_field(entry, '/', nat) ||
      !next_field(entry, '/', observed) || !next_field(entry, '/', local))
    return false;
  if (!entry.empty()) {
    std::string_view instance, counter;
    std::uint64_t i = 0, c = 0;
    if (!next_field(entry, '/', seen) || !entry.empty() || !next_field(seen, ':', instance) ||
        !next_field(seen, ':', counter) || !seen.empty() || !parse_hex(instance, 8, i) ||
        !parse_hex(counter, 16, c) || c == 0)
      return false;
    w.instance = static_cast<std::uint32_t>(i);
    w.counter = c;
  }
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

// Optional fields: "-" for none.
void put_field(std::string& s, std::string_view v) {
  s += '/';
  s += v.empty() ? std::string_view("-") : v;
}

// What a note may hold of a name: lower-case DNS characters only (the DC
// validates and lower-cases every FQDN it takes; anything else is reloaded).
bool carriable_name(std::string_view n) {
  if (n.size() > 253) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

std::string path_entry(const state::Path& p) {
  std::string s = p.id.to_hex();
  put_field(s, p.initiator.to_hex());
  put_field(s, p.responder ? p.responder->to_hex() : std::string());
  put_field(s, p.responder_fqdn);
  put_field(s, p.general_addr.family == wire::Family::none ? std::string()
                                                            : p.general_addr.to_string());
  put_field(s, std::to_string(static_cast<int>(p.route)));
  put_field(s, std::to_string(static_cast<int>(p.first)));
  put_field(s, p.relay ? p.relay->to_hex() : std::string());
  put_field(s, endpoint_text(p.relay_endpoint));
  put_field(s, std::to_string(static_cast<int>(p.key_epoch)));
  put_field(s, std::to_string(static_cast<int>(p.state)));
  put_field(s, std::to_string(p.created_ms));
  put_field(s, std::to_string(p.updated_ms));
  put_field(s, p.remote ? "1" : "0");
  put_field(s, p.peer_view[0] ? wire::Vip{p.peer_view[0]}.to_string() : std::string());
  put_field(s, p.peer_view[1] ? wire::Vip{p.peer_view[1]}.to_string() : std::string());
  put_field(s, p.initiator_fqdn);
  return s;
}

// A peer view: "-" (0, not chosen) or an IPv4 address.
bool view_field(std::string_view t, std::uint32_t& out) {
  out = 0;
  if (t == "-") return true;
  wire::IpAddr a;
  if (!wire::IpAddr::parse(t, a) || a.family != wire::Family::v4) return false;
  out = a.v4_host_order();
  return out != 0;
}

// A small decimal in [lo, hi], no sign, no leading zero.
bool small_number(std::string_view t, int lo, int hi, int& out) {
  if (t.empty() || t.size() > 3 || (t.size() > 1 && t[0] == '0')) return false;
  int v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

// Milliseconds since the epoch: decimal, no sign, no leading zero.
bool ms_number(std::string_view t, std::uint64_t& out) {
  if (t.empty() || t.size() > 15 || (t.size() > 1 && t[0] == '0')) return false;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

bool parse_path_entry(std::string_view entry, state::Path& p) {
  if (ends_in_separator(entry)) return false;
  std::array<std::string_view, 16> f;
  for (auto& field : f)
    if (!next_field(entry, '/', field)) return false;
  auto none = [](std::string_view v) { return v == "-"; };
  // The initiator's FQDN (migration 0005) is the 17th field; a member that
  // predates it sends 16, read as "none".
  if (!entry.empty()) {
    std::string_view ini_fqdn;
    if (!next_field(entry, '/', ini_fqdn) || !entry.empty()) return false;
    if (!none(ini_fqdn)) {
      if (!carriable_name(ini_fqdn)) return false;
      p.initiator_fqdn = std::string(ini_fqdn);
    }
  }
  if (!wire::PathId::from_hex(f[0], p.id) || !wire::NodeId::from_hex(f[1], p.initiator))
    return false;
  if (!none(f[2])) {
    wire::NodeId r;
    if (!wire::NodeId::from_hex(f[2], r)) return false;
    p.responder = r;
  }
  if (!none(f[3])) {
    if (!carriable_name(f[3])) return false;
    p.responder_fqdn = std::string(f[3]);
  }
  if (!none(f[4]) && (!wire::IpAddr::parse(f[4], p.general_addr) ||
                      p.general_addr.family == wire::Family::none))
    return false;
  int route = 0, first = 0, epoch = 0, st = 0;
  if (!small_number(f[5], 1, 4, route) || !small_number(f[6], 1, 3, first) ||
      !small_number(f[9], 0, 255, epoch) || !small_number(f[10], 1, 3, st))
    return false;
  p.route = static_cast<wire::RouteType>(route);
  p.first = static_cast<wire::FirstSender>(first);
  p.key_epoch = static_cast<std::uint8_t>(epoch);
  p.state = static_cast<state::PathState>(st);
  if (!none(f[7])) {
    wire::NodeId r;
    if (!wire::NodeId::from_hex(f[7], r)) return false;
    p.relay = r;
  }
  if (!none(f[8]) && (!parse_endpoint_text(f[8], p.relay_endpoint) || p.relay_endpoint.empty()))
    return false;
  if (f[13] != "0" && f[13] != "1") return false;
  p.remote = f[13] == "1";
  return ms_number(f[11], p.created_ms) && ms_number(f[12], p.updated_ms) &&
         view_field(f[14], p.peer_view[0]) && view_field(f[15], p.peer_view[1]);
}

// Entries packed into notes of at most kMaxNoteBytes and kMaxIdsPerNote.
std::vector<std::string> pack(std::string_view word, std::string_view sender,
                              const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  const std::string head = std::string(word) + ' ' + std::string(sender);
  std::string s;
  std::size_t count = 0;
  for (const std::string& entry : entries) {
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

}  // namespace

bool note_from(std::string_view payload, std::string_view sender) noexcept {
  if (sender.size() != kSenderHexLen) return false;
  const auto sp = payload.find(' ');
  if (sp == std::string_view::npos) return false;
  const std::string_view kind = payload.substr(0, sp);
  if (kind == "node" || kind == "relay") return false;  // the CLI's: no sender
  const std::string_view rest = payload.substr(sp + 1);
  return rest.size() >= sender.size() && rest.substr(0, sender.size()) == sender &&
         (rest.size() == sender.size() || rest[sender.size()] == ' ');
}

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
  if (word != "reg" && word != "parties" && word != "seen" && word != "pathw" && word != "gone" &&
      word != "paths")
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
  } else if (word == "pathw") {
    n.kind = ChangeNote::Kind::path_rows;
    std::string_view entry;
    while (!rest.empty()) {
      if (n.path_rows.size() == kMaxIdsPerNote || !next_word(rest, entry)) return std::nullopt;
      state::Path p;
      if (!parse_path_entry(entry, p)) return std::nullopt;
      n.path_rows.push_back(std::move(p));
    }
    if (n.path_rows.empty()) return std::nullopt;
  } else if (word != "paths" && word != "gone") {
    n.kind = word == "seen" ? ChangeNote::Kind::seen : ChangeNote::Kind::parties;
    if (!read_ids(rest, n.parties)) return std::nullopt;
  } else {
    n.kind = word == "gone" ? ChangeNote::Kind::gone : ChangeNote::Kind::paths;
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
  std::vector<std::string> entries;
  const std::size_t head = 4 + sender.size();  // "reg <sender>"
  for (const RegistrationWrite* w : regs) {
    std::string entry = registration_entry(*w);
    if (head + 1 + entry.size() > kMaxNoteBytes) too_big.push_back(w->id);
    else entries.push_back(std::move(entry));
  }
  return pack("reg", sender, entries);
}

std::vector<std::string> path_row_notes(std::string_view sender,
                                        const std::vector<const state::Path*>& rows,
                                        std::vector<wire::PathId>& reload) {
  std::vector<std::string> entries;
  for (const state::Path* p : rows) {
    if (!carriable_name(p->responder_fqdn) || !carriable_name(p->initiator_fqdn))
      reload.push_back(p->id);
    else
      entries.push_back(path_entry(*p));  // at most about 850 bytes
  }
  return pack("pathw", sender, entries);
}

std::vector<std::string> gone_notes(std::string_view sender, const std::vector<wire::PathId>& ids) {
  return notes("gone", sender, ids);
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
