// SPDX-License-Identifier: MIT
// The resolver front's DNS codec: strict query parsing, the responses it
// builds (read back by a hand-written reader), and hostile inputs.
#include <doctest/doctest.h>

#include <random>

#include "dns/dns_test_util.hpp"
#include "ntm/node/dns/message.hpp"

namespace {

using namespace ntm::node::dns;
using namespace ntm::test::dns;

ParsedQuery parse(const Bytes& b) {
  return parse_query(b);
}

Query ok_query(const QuerySpec& s) {
  auto p = parse(make_query(s));
  REQUIRE(p.status == QueryStatus::ok);
  return p.query;
}

}  // namespace

TEST_CASE("dns codec: a plain A query") {
  QuerySpec s;
  s.name = "CN.Ntm.Test.";
  s.id = 0xbeef;
  const auto p = parse(make_query(s));
  REQUIRE(p.status == QueryStatus::ok);
  CHECK(p.query.id == 0xbeef);
  CHECK(p.query.rd);
  CHECK_FALSE(p.query.cd);
  CHECK(p.query.opcode == 0);
  CHECK(p.query.name == "cn.ntm.test");
  CHECK(p.query.qtype == kTypeA);
  CHECK(p.query.qclass == kClassIn);
  CHECK(p.query.qname_wire == wire_name("CN.Ntm.Test"));  // case kept for the echo
  CHECK_FALSE(p.query.edns.has_value());
}

TEST_CASE("dns codec: EDNS is read") {
  QuerySpec s;
  s.edns = true;
  s.dnssec_ok = true;
  const auto q = ok_query(s);
  REQUIRE(q.edns.has_value());
  CHECK(q.edns->udp_bytes == 4096);
  CHECK(q.edns->version == 0);
  CHECK(q.edns->dnssec_ok);
}

TEST_CASE("dns codec: canonical names") {
  CHECK(ok_query({.name = "."}).name == ".");
  CHECK(ok_query({.name = "host"}).name == "host");
  CHECK(ok_query({.name = "_sip._udp.Example.ORG"}).name == "_sip._udp.example.org");
  // Bytes that are not host-name characters are escaped, so such a name
  // can never equal a host name.
  Bytes b = make_query(QuerySpec{.name = "axb.example"});
  b[14] = '.';  // "a.b" as one label
  auto p = parse(b);
  REQUIRE(p.status == QueryStatus::ok);
  CHECK(p.query.name == "a\\.b.example");
  b[14] = 0x07;
  p = parse(b);
  REQUIRE(p.status == QueryStatus::ok);
  CHECK(p.query.name == "a\\007b.example");
  b[14] = ' ';
  CHECK(parse(b).query.name == "a\\032b.example");
}

TEST_CASE("dns codec: A answer round trip") {
  QuerySpec s;
  s.name = "Cn.Ntm.Test";
  s.id = 77;
  s.cd = true;
  const auto q = ok_query(s);
  const std::uint32_t vips[] = {0x64400009, 0x6440000a};
  const auto wire = build_a_answer(q, vips, 60);
  const auto r = read_reply(wire);
  REQUIRE(r.has_value());
  CHECK(r->id == 77);
  CHECK(r->qr);
  CHECK_FALSE(r->aa);
  CHECK(r->ra);
  CHECK(r->rd);
  CHECK(r->cd);
  CHECK(r->rcode == 0);
  CHECK(r->qdcount == 1);
  CHECK(r->qname == wire_name("Cn.Ntm.Test"));
  CHECK(r->qtype == kTypeA);
  CHECK(r->qclass == kClassIn);
  REQUIRE(r->answers.size() == 2);
  CHECK(r->answers[0].type == kTypeA);
  CHECK(r->answers[0].klass == kClassIn);
  CHECK(r->answers[0].ttl == 60);
  CHECK(a_address(r->answers[0]) == 0x64400009);
  CHECK(a_address(r->answers[1]) == 0x6440000a);
  CHECK_FALSE(r->opt.has_value());  // no OPT in the query, none in the answer

  // The answer is a response: fed back as a query it is dropped.
  CHECK(parse(wire).status == QueryStatus::drop);
  // And it reads as the reply to our question.
  const auto head = peek_reply(wire);
  REQUIRE(head.has_value());
  CHECK(head->qr);
  CHECK(head->id == 77);
  CHECK(same_name(head->qname_wire, wire_name("cn.ntm.TEST")));
}

TEST_CASE("dns codec: at most kMaxAddresses records") {
  const auto q = ok_query({});
  std::vector<std::uint32_t> many(20, 0x0a000001);
  const auto r = read_reply(build_a_answer(q, many, 5));
  REQUIRE(r.has_value());
  CHECK(r->answers.size() == kMaxAddresses);
}

TEST_CASE("dns codec: empty responses carry the rcode, and OPT when asked with one") {
  QuerySpec s;
  s.edns = true;
  s.dnssec_ok = true;
  s.qtype = kTypeAaaa;
  const auto q = ok_query(s);
  for (auto rc : {Rcode::noerror, Rcode::nxdomain, Rcode::servfail, Rcode::refused}) {
    const auto r = read_reply(build_empty(q, rc));
    REQUIRE(r.has_value());
    CHECK(r->rcode == static_cast<unsigned>(rc));
    CHECK(r->ancount == 0);
    CHECK(r->qtype == kTypeAaaa);
    REQUIRE(r->opt.has_value());
    CHECK(r->opt->klass == kEdnsUdpBytes);
    CHECK(r->dnssec_ok());
    CHECK(r->full_rcode() == static_cast<unsigned>(rc));
  }
}

TEST_CASE("dns codec: short datagrams and responses are dropped") {
  CHECK(parse({}).status == QueryStatus::drop);
  Bytes b = make_query(QuerySpec{});
  CHECK(parse(Bytes(b.begin(), b.begin() + 11)).status == QueryStatus::drop);
  b[2] |= 0x80;  // QR
  CHECK(parse(b).status == QueryStatus::drop);
}

TEST_CASE("dns codec: malformed queries are FORMERR") {
  const Bytes good = make_query(QuerySpec{.id = 9});

  SUBCASE("header only, qdcount 1") {
    const Bytes b(good.begin(), good.begin() + 12);
    const auto p = parse(b);
    CHECK(p.status == QueryStatus::formerr);
    const auto r = read_reply(build_reject(p));
    REQUIRE(r.has_value());
    CHECK(r->id == 9);
    CHECK(r->rcode == 1);
    CHECK(r->qdcount == 0);
  }
  SUBCASE("truncated question") {
    for (std::size_t n = 13; n < good.size(); ++n) {
      CAPTURE(n);
      CHECK(parse(Bytes(good.begin(), good.begin() + static_cast<long>(n))).status ==
            QueryStatus::formerr);
    }
  }
  SUBCASE("no question") {
    Bytes b(good.begin(), good.begin() + 12);
    b[5] = 0;
    CHECK(parse(b).status == QueryStatus::formerr);
  }
  SUBCASE("two questions") {
    Bytes b = good;
    b[5] = 2;
    b.insert(b.end(), good.begin() + 12, good.end());
    const auto p = parse(b);
    CHECK(p.status == QueryStatus::formerr);
    CHECK(read_reply(build_reject(p))->rcode == 1);
  }
  SUBCASE("compression pointer to itself") {
    Bytes b(good.begin(), good.begin() + 12);
    b.insert(b.end(), {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01});
    CHECK(parse(b).status == QueryStatus::formerr);
  }
  SUBCASE("compression loop of two pointers") {
    Bytes b(good.begin(), good.begin() + 12);
    // 12: label "a" then pointer to 17; 17: pointer back to 12.
    b.insert(b.end(), {0x01, 'a', 0xc0, 0x11, 0x00, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01});
    CHECK(parse(b).status == QueryStatus::formerr);
  }
  SUBCASE("pointer past the end") {
    Bytes b(good.begin(), good.begin() + 12);
    b.insert(b.end(), {0xc0, 0xff, 0x00, 0x01, 0x00, 0x01});
    CHECK(parse(b).status == QueryStatus::formerr);
  }
  SUBCASE("label of 64 bytes") {
    QuerySpec s;
    s.name = std::string(64, 'a') + ".test";
    CHECK(parse(make_query(s)).status == QueryStatus::formerr);
    s.name = std::string(63, 'a') + ".test";
    CHECK(parse(make_query(s)).status == QueryStatus::ok);
  }
  SUBCASE("name over 255 bytes") {
    std::string name;
    for (int i = 0; i < 5; ++i) name += std::string(60, 'a') + ".";
    CHECK(parse(make_query(QuerySpec{.name = name})).status == QueryStatus::formerr);
  }
  SUBCASE("counts that promise records that are not there") {
    Bytes b = good;
    b[7] = 1;  // ancount
    CHECK(parse(b).status == QueryStatus::formerr);
    b = good;
    b[11] = 3;  // arcount
    CHECK(parse(b).status == QueryStatus::formerr);
  }
  SUBCASE("two OPT records: FORMERR without OPT") {
    QuerySpec s;
    s.edns = true;
    Bytes b = make_query(s);
    const Bytes opt(b.end() - 11, b.end());
    b.insert(b.end(), opt.begin(), opt.end());
    b[11] = 2;
    const auto p = parse(b);
    CHECK(p.status == QueryStatus::formerr);
    const auto r = read_reply(build_reject(p));
    REQUIRE(r.has_value());
    CHECK(r->rcode == 1);
    CHECK_FALSE(r->opt.has_value());
  }
}

TEST_CASE("dns codec: lenient where the RFCs allow it") {
  SUBCASE("trailing bytes") {
    Bytes b = make_query(QuerySpec{});
    b.push_back(0xff);
    CHECK(parse(b).status == QueryStatus::ok);
  }
  SUBCASE("an answer record in a query") {
    Bytes b = make_query(QuerySpec{});
    b[7] = 1;
    b.insert(b.end(), {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4});
    CHECK(parse(b).status == QueryStatus::ok);
  }
}

TEST_CASE("dns codec: other opcodes are NOTIMP, EDNS version 1 is BADVERS") {
  for (unsigned op : {1u, 2u, 4u, 5u, 15u}) {
    CAPTURE(op);
    QuerySpec s;
    s.opcode = op;
    const auto p = parse(make_query(s));
    CHECK(p.status == QueryStatus::notimp);
    const auto r = read_reply(build_reject(p));
    REQUIRE(r.has_value());
    CHECK(r->rcode == 4);
    CHECK(r->opcode == op);
    CHECK(r->qr);
  }
  QuerySpec s;
  s.edns = true;
  s.edns_version = 1;
  const auto p = parse(make_query(s));
  CHECK(p.status == QueryStatus::badvers);
  const auto r = read_reply(build_reject(p));
  REQUIRE(r.has_value());
  REQUIRE(r->opt.has_value());
  CHECK(r->rcode == 0);
  CHECK(r->full_rcode() == 16);
  CHECK(((r->opt->ttl >> 16) & 0xff) == 0);  // we speak version 0
}

TEST_CASE("dns codec: ids and reply heads") {
  Bytes b = make_query(QuerySpec{.id = 0x0102});
  CHECK(read_id(b) == 0x0102);
  write_id(b, 0xa0b0);
  CHECK(read_id(b) == 0xa0b0);
  CHECK(b[0] == 0xa0);
  CHECK_FALSE(peek_reply(Bytes(5, 0)).has_value());
  Bytes h(12, 0);
  h[2] = 0x80;
  const auto head = peek_reply(h);
  REQUIRE(head.has_value());
  CHECK(head->qdcount == 0);
  CHECK(head->qname_wire.empty());
  h[5] = 1;  // a question promised, none there
  CHECK_FALSE(peek_reply(h).has_value());
  CHECK_FALSE(same_name(wire_name("a.b"), wire_name("a.c")));
  CHECK(same_name(wire_name("A.b"), wire_name("a.B")));
}

TEST_CASE("dns codec: random and mutated inputs never crash") {
  std::mt19937 rng(12345);
  const Bytes seeds[] = {make_query(QuerySpec{}), make_query(QuerySpec{.edns = true}),
                         make_query(QuerySpec{.name = "a.b.c.d.e.f", .qtype = 15})};
  std::size_t ok = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = seeds[static_cast<std::size_t>(i) % 3];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    const auto p = parse(b);
    if (p.status == QueryStatus::ok) {
      ++ok;
      const std::uint32_t a[] = {1};
      CHECK(read_reply(build_a_answer(p.query, a, 1)).has_value());
      CHECK(read_reply(build_empty(p.query, Rcode::servfail)).has_value());
    } else if (p.status != QueryStatus::drop) {
      CHECK(read_reply(build_reject(p)).has_value());
    }
    (void)peek_reply(b);
  }
  CHECK(ok > 0);
}
