// SPDX-License-Identifier: MIT
// The DC cluster's notification payloads (dc/store/change_note): what a
// writer sends must parse back to the same change, within PostgreSQL's
// 8000-byte limit, and anything else must be refused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ntm/wire/messages.hpp"
#include "store/change_note.hpp"

using ntm::dc::store::ChangeNote;
using ntm::dc::store::RegistrationWrite;
namespace store = ntm::dc::store;
namespace wire = ntm::wire;

namespace {

wire::Endpoint ep(const char* addr, std::uint16_t port) {
  wire::Endpoint e;
  REQUIRE(wire::IpAddr::parse(addr, e.addr));
  e.port = port;
  return e;
}

wire::NodeId id_n(unsigned n) {
  wire::NodeId id;
  std::string hex(32, '0');
  const std::string tail = std::to_string(n);
  hex.replace(32 - tail.size(), tail.size(), tail);
  REQUIRE(wire::NodeId::from_hex(hex, id));
  return id;
}

constexpr const char* kSender = "0123456789abcdef";

}  // namespace

TEST_CASE("change note: registrations are carried whole and parse back") {
  RegistrationWrite a{false, id_n(1), {ep("192.168.1.5", 4500), ep("fd00::7", 4501)},
                      ep("203.0.113.9", 61000), true, false};
  RegistrationWrite b{false, id_n(2), {}, ep("2001:db8::1", 4500), true, true};
  RegistrationWrite c{false, id_n(3), {ep("198.51.100.3", 4500)}, {}, false, false};
  std::vector<wire::NodeId> too_big;
  const auto notes = store::registration_notes(kSender, {&a, &b, &c}, too_big);
  REQUIRE(notes.size() == 1);
  CHECK(too_big.empty());
  CHECK(notes[0].rfind("reg 0123456789abcdef ", 0) == 0);
  const auto n = store::parse_change_note(notes[0]);
  REQUIRE(n);
  CHECK(n->kind == ChangeNote::Kind::registrations);
  CHECK(n->sender == kSender);
  REQUIRE(n->registrations.size() == 3);
  CHECK(n->registrations[0] == a);
  CHECK(n->registrations[1] == b);
  CHECK(n->registrations[2] == c);
}

TEST_CASE("change note: many registrations are split under the size and count limits") {
  std::vector<RegistrationWrite> regs;
  for (unsigned i = 0; i < 500; ++i) {
    std::vector<wire::Endpoint> local;
    // Every third one with the wire's maximum of local addresses (IPv6).
    for (unsigned k = 0; k < (i % 3 == 0 ? wire::kMaxEndpoints : 1); ++k)
      local.push_back(ep("2001:db8:1234:5678:9abc:def0:1234:5678", static_cast<std::uint16_t>(40000 + k)));
    regs.push_back({false, id_n(i), local, ep("203.0.113.9", 60000), true, false});
  }
  std::vector<const RegistrationWrite*> ptrs;
  for (const auto& r : regs) ptrs.push_back(&r);
  std::vector<wire::NodeId> too_big;
  const auto notes = store::registration_notes(kSender, ptrs, too_big);
  CHECK(notes.size() > 1);
  CHECK(too_big.empty());
  std::vector<RegistrationWrite> back;
  for (const auto& s : notes) {
    CHECK(s.size() <= store::kMaxNoteBytes);
    const auto n = store::parse_change_note(s);
    REQUIRE(n);
    CHECK(n->registrations.size() <= store::kMaxIdsPerNote);
    back.insert(back.end(), n->registrations.begin(), n->registrations.end());
  }
  CHECK(back == regs);
}

TEST_CASE("change note: a registration's instance and counter are carried when known") {
  RegistrationWrite a{false, id_n(1), {ep("192.168.1.5", 4500)}, ep("203.0.113.9", 61000), true,
                      false};
  a.instance = 0xfedcba98;
  a.counter = 0x17979cfe362a0001;
  RegistrationWrite b{false, id_n(2), {}, {}, false, false};  // none known: no field
  std::vector<wire::NodeId> too_big;
  const auto notes = store::registration_notes(kSender, {&a, &b}, too_big);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("/fedcba98:17979cfe362a0001 ") != std::string::npos);
  const auto n = store::parse_change_note(notes[0]);
  REQUIRE(n);
  REQUIRE(n->registrations.size() == 2);
  CHECK(n->registrations[0] == a);
  CHECK(n->registrations[1] == b);
  CHECK(n->registrations[1].counter == 0);
  // A note from a member without the field (before 2026-12-01) still parses.
  const std::string id(32, 'a');
  const std::string head = std::string("reg ") + kSender + " ";
  const auto old = store::parse_change_note(head + id + "/0/-/-");
  REQUIRE(old);
  CHECK(old->registrations[0].counter == 0);
  for (const std::string& bad : std::vector<std::string>{
           id + "/0/-/-/1:0",                     // counter 0 means none: never sent
           id + "/0/-/-/1",                       // no counter
           id + "/0/-/-/:5",                      // no instance
           id + "/0/-/-/1:5:6",                   // a third number
           id + "/0/-/-/123456789:5",             // instance over 32 bits
           id + "/0/-/-/1:12345678901234567",     // counter over 64 bits
           id + "/0/-/-/1:5x",                    // not hex
           id + "/0/-/-/1:5/2:6",                 // a field too many
       })
    CHECK_MESSAGE(!store::parse_change_note(head + bad), bad);
}

TEST_CASE("change note: malformed reg entries are refused") {
  const std::string id(32, 'a');
  const std::string head = std::string("reg ") + kSender + " ";
  CHECK(store::parse_change_note(head + id + "/1/203.0.113.9:5/10.0.0.1:4500"));
  CHECK(store::parse_change_note(head + id + "/0/-/-"));
  for (const std::string& bad : std::vector<std::string>{
           id + "/4/-/-",                          // NAT digit out of range
           id + "/1/-",                            // a field missing
           id + "/1/-/-/-",                        // a field too many
           id + "/1/-/-/",                         // an empty fifth field
           id + "/1//-",                           // empty observed
           id + "/1/-/10.0.0.1:4500,",             // trailing comma
           id + "/1/-/10.0.0.1:4500,,10.0.0.2:1",  // empty local
           id + "/1/-/10.0.0.1:70000",             // port out of range
           id + "/1/-/[fd00::1]x4500",             // no colon after the bracket
           id + "/1/300.0.0.1:5/-",                // not an address
           id.substr(1) + "/1/-/-",                // short ID
           id + "/1/-/-  " + id + "/1/-/-",        // doubled space
       })
    CHECK_MESSAGE(!store::parse_change_note(head + bad), bad);
  CHECK_FALSE(store::parse_change_note(std::string("reg ") + kSender));  // no entry
  CHECK_FALSE(store::parse_change_note("reg nothex0123456789 " + id + "/0/-/-"));
  std::string nine;  // nine local addresses: one over the wire's bound
  for (int i = 0; i < 9; ++i) nine += (i ? "," : "") + std::string("10.0.0.1:") + std::to_string(i + 1);
  CHECK_FALSE(store::parse_change_note(head + id + "/0/-/" + nine));
  std::string over = head + id + "/0/-/-";
  while (over.size() <= store::kMaxNoteBytes) over += " " + id + "/0/-/-";
  CHECK_FALSE(store::parse_change_note(over));
}

TEST_CASE("change note: the ID forms still parse") {
  const std::string id(32, 'b');
  auto n = store::parse_change_note("node " + id);
  REQUIRE(n);
  CHECK(n->kind == ChangeNote::Kind::party);
  n = store::parse_change_note(std::string("parties ") + kSender + " " + id + " " + id);
  REQUIRE(n);
  CHECK(n->kind == ChangeNote::Kind::parties);
  CHECK(n->parties.size() == 2);
  CHECK_FALSE(store::parse_change_note(std::string("parties ") + kSender));
  CHECK_FALSE(store::parse_change_note("bogus " + id));
}

namespace {

ntm::dc::state::Path sample_path(unsigned n) {
  ntm::dc::state::Path p;
  std::string hex(32, 'c');
  const std::string tail = std::to_string(n);
  hex.replace(32 - tail.size(), tail.size(), tail);
  REQUIRE(wire::PathId::from_hex(hex, p.id));
  p.initiator = id_n(n);
  p.responder = id_n(n + 1);
  p.responder_fqdn = "cn-" + std::to_string(n) + ".zone.example";
  p.route = wire::RouteType::relay;
  p.first = wire::FirstSender::responder;
  p.relay = id_n(7);
  p.relay_endpoint = ep("198.51.100.7", 4600);
  p.key_epoch = 255;
  p.state = ntm::dc::state::PathState::established;
  p.created_ms = 1764450000000ull + n;
  p.updated_ms = 1764450000123ull + n;
  p.remote = n % 3 == 1;
  p.peer_view[0] = 0x64400000u + n;          // 100.64.0.n: the responder's VIP
  p.peer_view[1] = n % 2 ? 0x64780002u : 0;  // a substitute (100.120.0.2), or not chosen
  // Another DC's node as initiator (a federated path at the CN's DC), or none.
  if (p.remote) p.initiator_fqdn = "mn-" + std::to_string(n) + ".other.example";
  return p;
}

// The fields the paths table holds (the rest is the view's memory only).
void check_same_columns(const ntm::dc::state::Path& a, const ntm::dc::state::Path& b) {
  CHECK(a.id == b.id);
  CHECK(a.initiator == b.initiator);
  CHECK(a.responder == b.responder);
  CHECK(a.responder_fqdn == b.responder_fqdn);
  CHECK(a.general_addr == b.general_addr);
  CHECK(a.route == b.route);
  CHECK(a.first == b.first);
  CHECK(a.relay == b.relay);
  CHECK(a.relay_endpoint == b.relay_endpoint);
  CHECK(a.key_epoch == b.key_epoch);
  CHECK(a.state == b.state);
  CHECK(a.created_ms == b.created_ms);
  CHECK(a.updated_ms == b.updated_ms);
  CHECK(a.remote == b.remote);
  CHECK(a.peer_view[0] == b.peer_view[0]);
  CHECK(a.peer_view[1] == b.peer_view[1]);
  CHECK(a.initiator_fqdn == b.initiator_fqdn);
}

}  // namespace

TEST_CASE("change note: path writes are carried whole and parse back, deletions by ID") {
  auto relayed = sample_path(1);
  auto general = sample_path(2);  // towards a general host: no responder, an address, no relay
  general.responder.reset();
  general.route = wire::RouteType::relay_general;
  general.first = wire::FirstSender::initiator;
  REQUIRE(wire::IpAddr::parse("2001:db8::80", general.general_addr));
  general.relay.reset();
  general.relay_endpoint = {};
  general.key_epoch = 0;
  general.state = ntm::dc::state::PathState::directing;
  auto odd = sample_path(3);
  odd.responder_fqdn = "Not/Carriable";  // not a name the DC keeps: reloaded instead
  auto odd_ini = sample_path(4);
  odd_ini.initiator_fqdn = "Not Carriable";
  REQUIRE(relayed.remote);
  REQUIRE(!relayed.initiator_fqdn.empty());
  std::vector<wire::PathId> reload;
  const auto notes =
      store::path_row_notes(kSender, {&relayed, &general, &odd, &odd_ini}, reload);
  REQUIRE(notes.size() == 1);
  REQUIRE(reload.size() == 2);
  CHECK(reload[0] == odd.id);
  CHECK(reload[1] == odd_ini.id);
  const auto n = store::parse_change_note(notes[0]);
  REQUIRE(n);
  CHECK(n->kind == ChangeNote::Kind::path_rows);
  REQUIRE(n->path_rows.size() == 2);
  check_same_columns(n->path_rows[0], relayed);
  check_same_columns(n->path_rows[1], general);

  const auto gone = store::gone_notes(kSender, {relayed.id, general.id});
  REQUIRE(gone.size() == 1);
  const auto g = store::parse_change_note(gone[0]);
  REQUIRE(g);
  CHECK(g->kind == ChangeNote::Kind::gone);
  CHECK(g->paths == std::vector<wire::PathId>{relayed.id, general.id});
}

TEST_CASE("change note: many path writes are split under the limits, bad entries are refused") {
  std::vector<ntm::dc::state::Path> rows;
  for (unsigned i = 0; i < 300; ++i) {
    rows.push_back(sample_path(i));
    if (i % 2) rows.back().responder_fqdn = std::string(60, 'a') + "." + std::string(60, 'b') +
                                            "." + std::string(60, 'c') + ".zone.example";
  }
  std::vector<const ntm::dc::state::Path*> ptrs;
  for (const auto& r : rows) ptrs.push_back(&r);
  std::vector<wire::PathId> reload;
  const auto notes = store::path_row_notes(kSender, ptrs, reload);
  CHECK(reload.empty());
  CHECK(notes.size() > 1);
  std::size_t i = 0;
  for (const auto& s : notes) {
    CHECK(s.size() <= store::kMaxNoteBytes);
    const auto n = store::parse_change_note(s);
    REQUIRE(n);
    for (const auto& p : n->path_rows) check_same_columns(p, rows.at(i++));
  }
  CHECK(i == rows.size());

  const std::string good = notes[0].substr(0, notes[0].find(' ', 23));  // "pathw <sender> <entry>"
  REQUIRE(store::parse_change_note(good));
  const std::string entry = good.substr(23);
  auto with = [&](std::size_t field, const std::string& value) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (;;) {
      const auto slash = entry.find('/', start);
      f.push_back(entry.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    REQUIRE(f.size() == 17);
    f[field] = value;
    std::string out = std::string("pathw ") + kSender + " ";
    for (std::size_t k = 0; k < f.size(); ++k) out += (k ? "/" : "") + f[k];
    return out;
  };
  CHECK(store::parse_change_note(with(5, "4")));
  CHECK(store::parse_change_note(with(13, "1")));
  CHECK(store::parse_change_note(with(14, "-")));
  CHECK(store::parse_change_note(with(15, "10.1.2.3")));
  CHECK(store::parse_change_note(with(16, "mn.other.example")));
  // A member that predates the initiator's FQDN (migration 0005) sends 16
  // fields: read as none.
  {
    const std::string old = good.substr(0, good.rfind('/'));
    const auto n = store::parse_change_note(old);
    REQUIRE(n);
    REQUIRE(n->path_rows.size() == 1);
    CHECK(n->path_rows[0].initiator_fqdn.empty());
  }
  // Not a structured binding: doctest's macros capture in lambdas, which
  // clang 14 does not allow for structured bindings.
  for (const auto& bad : std::vector<std::pair<std::size_t, std::string>>{
           {0, "xyz"}, {1, "-"}, {3, "UPPER.example"}, {3, "a b"}, {4, "not-an-address"},
           {5, "0"}, {5, "5"}, {6, "4"}, {6, "01"}, {8, "10.0.0.1"}, {9, "256"}, {10, "0"},
           {11, "-1"}, {12, ""}, {12, "1234567890123456"}, {13, "2"}, {13, "-"},
           {14, "0.0.0.0"}, {14, "2001:db8::1"}, {15, "100.64"}, {15, ""}, {16, "A.example"},
           {16, ""}})
    CHECK_MESSAGE(!store::parse_change_note(with(bad.first, bad.second)),
                  bad.first << "=" << bad.second);
  CHECK_FALSE(store::parse_change_note(good + "/0"));  // a field too many
}

TEST_CASE("change note: a process knows its own notes from the first two words") {
  const std::string other = "fedcba9876543210";
  const auto own_gone = store::gone_notes(kSender, {wire::PathId{}});
  REQUIRE(own_gone.size() == 1);
  CHECK(store::note_from(own_gone.front(), kSender));
  CHECK_FALSE(store::note_from(own_gone.front(), other));
  const auto own_parties = store::party_notes(kSender, {id_n(1), id_n(2)});
  REQUIRE(own_parties.size() == 1);
  CHECK(store::note_from(own_parties.front(), kSender));
  // The CLI's notes have no sender; a token that is only a prefix, a longer
  // word, a sender of the wrong length and garbage are not ours.
  CHECK_FALSE(store::note_from("node " + std::string(32, 'a'), kSender));
  CHECK_FALSE(store::note_from("relay " + std::string(kSender), kSender));
  CHECK_FALSE(store::note_from("seen " + std::string(kSender) + "0 x", kSender));
  CHECK_FALSE(store::note_from("seen " + std::string(kSender).substr(0, 15), kSender));
  CHECK_FALSE(store::note_from("seen " + std::string(kSender), "abc"));
  CHECK_FALSE(store::note_from("", kSender));
  CHECK_FALSE(store::note_from("seen", kSender));
  CHECK(store::note_from("seen " + std::string(kSender), kSender));
}
