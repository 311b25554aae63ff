// SPDX-License-Identifier: MIT
// Federation's pure parts and its resolver: [peer.NAME]/[federation]
// config, the marker, the TXT message codec against hand-written bytes,
// peer selection and the DC_PEER channel between two peer tables, and the
// TXT resolver against a small DNS server on loopback in this test.
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dns_bytes.hpp"
#include "federation/marker.hpp"
#include "federation/peer.hpp"
#include "federation/resolver.hpp"
#include "federation/txt_message.hpp"
#include "ntm/common/clock.hpp"

using namespace ntm;
using namespace ntm::dc;
using federation::TxtStatus;
namespace tdns = ntm::test::dns;

namespace {

const std::string kDcA =
    "[dc]\n"
    "id = 0000000000000000000000000000000a\n"
    "zones = a.test\n"
    "listen = 127.0.0.1:4510\n"
    "state_dir = /var/lib/ntm-dc\n";
const std::string kKey = std::string(64, 'b');
const std::string kPeerB =
    "[peer.b]\n"
    "dc_id = 0000000000000000000000000000000b\n"
    "key = " + kKey + "\n"
    "zones = b.test\n";

std::string error_of(const std::string& text) {
  try {
    config::parse(text);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("federation config: off by default and peers and [federation] parsed") {
  CHECK_FALSE(config::parse(kDcA).federation.enabled);
  const auto c = config::parse(kDcA + kPeerB +
                               "endpoints = 127.0.0.1:4600, 127.0.0.2:4600\n"
                               "[federation]\nresolver = 127.0.0.1:5353\npeer_timeout_ms = 900\n");
  CHECK(c.federation.enabled);
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].name == "b");
  CHECK(c.peers[0].dc_id.to_hex() == "0000000000000000000000000000000b");
  CHECK(c.peers[0].key.to_hex() == kKey);
  CHECK(c.peers[0].zones == std::vector<std::string>{"b.test"});
  REQUIRE(c.peers[0].endpoints.size() == 2);
  CHECK(c.peers[0].endpoints[1].to_string() == "127.0.0.2:4600");
  CHECK(c.federation.resolver.to_string() == "127.0.0.1:5353");
  CHECK(c.federation.peer_timeout_ms == 900);
  CHECK(c.federation.dns_tries == 3);
  // A peer section alone turns federation on, with the system resolver.
  const auto p = config::parse(kDcA + kPeerB);
  CHECK(p.federation.enabled);
  CHECK(p.federation.resolver.empty());
}

TEST_CASE("federation config: key_file") {
  char tmpl[] = "/tmp/ntm-fed-key-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(tmpl) << "  " << kKey << "\n";
  const auto c = config::parse(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000b\n"
                                      "key_file = " + std::string(tmpl) + "\nzones = b.test\n");
  CHECK(c.peers.at(0).key.to_hex() == kKey);
  std::ofstream(tmpl) << "not a key\n";
  const auto e = error_of(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000b\n"
                                 "key_file = " + std::string(tmpl) + "\nzones = b.test\n");
  CHECK(e.find("[peer.b] key_file") != std::string::npos);
  CHECK(e.find("not a key") == std::string::npos);  // the file's content is not echoed
  std::filesystem::remove(tmpl);
}

TEST_CASE("federation config: errors name the section and key") {
  CHECK(error_of(kDcA + "[peer.b]\nkey = " + kKey + "\nzones = b.test\n")
            .find("[peer.b] dc_id: required") != std::string::npos);
  CHECK(error_of(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000b\nzones = b.test\n")
            .find("[peer.b] key: required") != std::string::npos);
  CHECK(error_of(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000b\nkey = abc\n"
                        "zones = b.test\n")
            .find("[peer.b] key: must be exactly 64 hex digits") != std::string::npos);
  CHECK(error_of(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000b\nkey = " + kKey + "\n")
            .find("[peer.b] zones: required") != std::string::npos);
  // Our own id: the two directions of the channel would share keys.
  CHECK(error_of(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000a\nkey = " + kKey +
                 "\nzones = b.test\n")
            .find("must differ from this DC's own") != std::string::npos);
  // A peer may not answer for our zones, nor two peers for one zone.
  CHECK(error_of(kDcA + "[peer.b]\ndc_id = 0000000000000000000000000000000b\nkey = " + kKey +
                 "\nzones = x.a.test\n")
            .find("overlaps our zone 'a.test'") != std::string::npos);
  CHECK(error_of(kDcA + kPeerB + "[peer.c]\ndc_id = 0000000000000000000000000000000c\nkey = " +
                 kKey + "\nzones = b.test\n")
            .find("overlaps 'b.test' of [peer.b]") != std::string::npos);
  CHECK(error_of(kDcA + kPeerB + "[peer.c]\ndc_id = 0000000000000000000000000000000b\nkey = " +
                 kKey + "\nzones = c.test\n")
            .find("same as [peer.b]") != std::string::npos);
  CHECK(error_of(kDcA + kPeerB + "bogus = 1\n").find("[peer.b] bogus: unknown key") !=
        std::string::npos);
  CHECK(error_of(kDcA + "[federation]\nresolver = 0.0.0.0:53\n").find("[federation] resolver") !=
        std::string::npos);
  CHECK(error_of(kDcA + "[peer.]\ndc_id = 0000000000000000000000000000000b\n")
            .find("needs a name") != std::string::npos);
}

TEST_CASE("federation marker") {
  auto m = federation::parse_marker("v=ntm1 dc=192.0.2.1:4510");
  REQUIRE(m);
  CHECK(m->to_string() == "192.0.2.1:4510");
  CHECK(federation::parse_marker("v=ntm1 dc=[2001:db8::1]:4510"));
  CHECK_FALSE(federation::parse_marker("v=spf1 -all"));
  CHECK_FALSE(federation::parse_marker("v=ntm1 dc=192.0.2.1"));
  CHECK_FALSE(federation::parse_marker("v=ntm1 dc=192.0.2.1:0"));
  CHECK_FALSE(federation::parse_marker("v=ntm1 endpoint=192.0.2.1:4510 fp=sha256:00"));
  CHECK_FALSE(federation::parse_marker("v=ntm2 dc=192.0.2.1:4510"));
  CHECK(federation::find_marker({"v=spf1 -all", "v=ntm1 dc=192.0.2.1:4510"}));
}

TEST_CASE("TXT query and response") {
  const auto q = federation::build_txt_query("cn.b.test", 0x1234);
  REQUIRE(q.size() > 12);
  CHECK(tdns::query_id(q) == 0x1234);
  CHECK(tdns::query_name(q) == "cn.b.test");
  CHECK((q[2] & 0x01) == 0x01);  // RD
  CHECK(federation::build_txt_query("", 1).empty());

  // Split strings are joined; CNAMEs inside the answer followed; the
  // smallest TTL kept.
  auto a = federation::parse_txt_response(
      tdns::response(0x1234, "cn.b.test", 0,
                     {tdns::cname("cn.b.test", "real.b.test", 120),
                      tdns::txt("real.b.test", {"v=ntm1 ", "dc=192.0.2.1:4510"}, 30),
                      tdns::txt("other.b.test", {"v=ntm1 dc=6.6.6.6:1"})}),
      "cn.b.test", 0x1234);
  CHECK(a.status == TxtStatus::ok);
  REQUIRE(a.texts.size() == 1);
  CHECK(a.texts[0] == "v=ntm1 dc=192.0.2.1:4510");
  CHECK(a.ttl_s == 30);
  // Case does not matter in DNS names.
  CHECK(federation::parse_txt_response(tdns::response(7, "CN.B.Test", 0, {tdns::txt("cn.b.TEST", {"x"})}),
                                       "cn.b.test", 7)
            .status == TxtStatus::ok);

  // Negative answers, with the SOA's negative TTL.
  a = federation::parse_txt_response(
      tdns::response(1, "gh.c.test", 3, {}, {tdns::soa("c.test", 900, 45)}), "gh.c.test", 1);
  CHECK(a.status == TxtStatus::nxdomain);
  CHECK(a.ttl_s == 45);
  a = federation::parse_txt_response(tdns::response(1, "gh.c.test", 0, {}), "gh.c.test", 1);
  CHECK(a.status == TxtStatus::nodata);
  CHECK(federation::parse_txt_response(tdns::response(1, "gh.c.test", 2, {}), "gh.c.test", 1)
            .status == TxtStatus::failed);

  // Not our answer: id, name, type; and garbage.
  CHECK(federation::parse_txt_response(tdns::response(2, "gh.c.test", 0, {}), "gh.c.test", 1)
            .status == TxtStatus::mismatch);
  CHECK(federation::parse_txt_response(tdns::response(1, "xx.c.test", 0, {}), "gh.c.test", 1)
            .status == TxtStatus::mismatch);
  CHECK(federation::parse_txt_response(tdns::response(1, "gh.c.test", 0, {}, {}, 1), "gh.c.test",
                                       1)
            .status == TxtStatus::mismatch);
  CHECK(federation::parse_txt_response(q, "cn.b.test", 0x1234).status == TxtStatus::mismatch);
  std::vector<std::uint8_t> junk(40, 0xff);
  CHECK(federation::parse_txt_response(junk, "gh.c.test", 1).status == TxtStatus::malformed);
  auto cut = tdns::response(1, "cn.b.test", 0, {tdns::txt("cn.b.test", {"v=ntm1 dc=1.2.3.4:5"})});
  cut.resize(cut.size() - 3);
  CHECK(federation::parse_txt_response(cut, "cn.b.test", 1).status == TxtStatus::malformed);
  // A CNAME loop ends.
  CHECK(federation::parse_txt_response(
            tdns::response(1, "a.b.test", 0,
                           {tdns::cname("a.b.test", "b.b.test"), tdns::cname("b.b.test", "a.b.test")}),
            "a.b.test", 1)
            .status == TxtStatus::nodata);
}

TEST_CASE("peer table: zones by longest suffix and the channel both ways") {
  const auto a = config::parse(kDcA + kPeerB +
                               "[peer.deep]\ndc_id = 000000000000000000000000000000dd\nkey = " +
                               std::string(64, 'd') + "\nzones = deep.b2.test\n");
  federation::PeerTable ta(a);
  CHECK(ta.for_name("cn.b.test")->name() == "b");
  CHECK(ta.for_name("b.test")->name() == "b");
  CHECK(ta.for_name("x.deep.b2.test")->name() == "deep");
  CHECK(ta.for_name("xb.test") == nullptr);
  CHECK(ta.for_name("cn.c.test") == nullptr);

  // DC b's view of a.
  const auto b = config::parse(
      "[dc]\nid = 0000000000000000000000000000000b\nzones = b.test\nlisten = 127.0.0.1:4511\n"
      "state_dir = /var/lib/ntm-dc\n[peer.a]\ndc_id = 0000000000000000000000000000000a\nkey = " +
      kKey + "\nzones = a.test\n");
  federation::PeerTable tb(b);
  federation::Peer& b_at_a = *ta.for_name("cn.b.test");
  federation::Peer& a_at_b = *tb.for_name("mn.a.test");

  const auto dgram = b_at_a.seal(wire::NodeInfoRequest{{"cn.b.test"}, {"mn.a.test"}}, 77);
  REQUIRE_FALSE(dgram.empty());
  wire::ControlHeader h;
  REQUIRE(wire::peek_control_header(dgram, h) == wire::Error::ok);
  CHECK(h.common.domain == wire::KeyDomain::dc_peer);
  CHECK(tb.by_header(h.common) == &a_at_b);
  CHECK(ta.by_header(h.common) == nullptr);  // a's own id is no peer of a
  wire::Received r;
  REQUIRE(a_at_b.open(dgram, r) == wire::Error::ok);
  CHECK(r.header.txid == 77);
  CHECK(std::get<wire::NodeInfoRequest>(r.body).target.name == "cn.b.test");
  // Replayed, forged, reflected.
  CHECK(a_at_b.open(dgram, r) == wire::Error::replayed);
  auto forged = b_at_a.seal(wire::NodeInfoRequest{{"cn.b.test"}, {"mn.a.test"}}, 78);
  forged.back() ^= 1;
  CHECK(a_at_b.open(forged, r) == wire::Error::auth_failed);
  CHECK(a_at_b.stats.received == 1);
  CHECK(a_at_b.stats.replayed == 1);
  CHECK(a_at_b.stats.auth_failed == 1);
  const auto mine = b_at_a.seal(wire::RouteForwardAck{}, 1);
  CHECK(b_at_a.open(mine, r) != wire::Error::ok);

  // A key sealed by a to b opens at b only, bound to its path and kind.
  const auto k = wire::SecretKey::random();
  wire::PathId path;
  path.bytes[0] = 9;
  const auto sealed = b_at_a.seal_key(k, path, 3, wire::SealedKind::path_key);
  wire::SecretKey out;
  REQUIRE(a_at_b.open_key(sealed, path, 3, wire::SealedKind::path_key, out) == wire::Error::ok);
  CHECK(out.equals(k));
  CHECK(a_at_b.open_key(sealed, path, 3, wire::SealedKind::relay_key, out) != wire::Error::ok);
  CHECK(b_at_a.open_key(sealed, path, 3, wire::SealedKind::path_key, out) != wire::Error::ok);
}

namespace {

// A DNS server on loopback that answers as the test tells it.
struct FakeDns {
  boost::asio::io_context& io;
  boost::asio::ip::udp::socket sock;
  std::vector<std::vector<std::uint8_t>> queries;
  // Given a query, the datagrams to send back (maybe none).
  std::function<std::vector<std::vector<std::uint8_t>>(const std::vector<std::uint8_t>&)> answer;
  std::array<std::uint8_t, 2048> buf{};
  boost::asio::ip::udp::endpoint from;

  explicit FakeDns(boost::asio::io_context& i)
      : io(i), sock(i, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  void receive() {
    sock.async_receive_from(boost::asio::buffer(buf), from,
                            [this](const boost::system::error_code& ec, std::size_t n) {
                              if (ec) return;
                              queries.emplace_back(buf.begin(), buf.begin() + static_cast<long>(n));
                              if (answer)
                                for (const auto& d : answer(queries.back()))
                                  sock.send_to(boost::asio::buffer(d), from);
                              receive();
                            });
  }
  wire::Endpoint endpoint() const {
    wire::Endpoint e;
    (void)wire::IpAddr::parse("127.0.0.1", e.addr);
    e.port = sock.local_endpoint().port();
    return e;
  }
};

// Runs one lookup to its end; returns the answer and the time it took.
std::pair<federation::TxtAnswer, std::uint64_t> run_lookup(boost::asio::io_context& io,
                                                           federation::TxtResolver& r,
                                                           const std::string& name) {
  std::optional<federation::TxtAnswer> got;
  const auto t0 = common::mono_ms();
  r.lookup(name, [&](const federation::TxtAnswer& a) { got = a; });
  io.restart();
  while (!got && common::mono_ms() - t0 < 5000) io.run_for(std::chrono::milliseconds(10));
  REQUIRE(got);
  return {*got, common::mono_ms() - t0};
}

}  // namespace

TEST_CASE("TXT resolver against a DNS server on loopback") {
  boost::asio::io_context io;
  FakeDns dns(io);
  federation::TxtResolver::Options o;
  o.server = dns.endpoint();
  o.timeout_ms = 100;
  o.tries = 3;
  o.cache_size = 2;
  federation::TxtResolver r(io, o);

  SUBCASE("marker answered, then cached for its TTL") {
    dns.answer = [](const auto& q) {
      return std::vector<std::vector<std::uint8_t>>{tdns::response(
          tdns::query_id(q), tdns::query_name(q), 0,
          {tdns::txt(tdns::query_name(q), {"v=ntm1 dc=127.0.0.1:4600"}, 60)})};
    };
    auto [a, ms] = run_lookup(io, r, "cn.b.test");
    CHECK(a.status == TxtStatus::ok);
    CHECK(federation::find_marker(a.texts));
    CHECK(dns.queries.size() == 1);
    auto [b, ms2] = run_lookup(io, r, "cn.b.test");
    CHECK(b.status == TxtStatus::ok);
    CHECK(dns.queries.size() == 1);  // from the cache
    CHECK(r.stats().cache_hits == 1);
    // Bounded: a third name evicts.
    run_lookup(io, r, "x.b.test");
    run_lookup(io, r, "y.b.test");
    CHECK(r.cached() <= 2);
  }
  SUBCASE("NXDOMAIN") {
    dns.answer = [](const auto& q) {
      return std::vector<std::vector<std::uint8_t>>{
          tdns::response(tdns::query_id(q), tdns::query_name(q), 3, {}, {tdns::soa("c.test", 60, 60)})};
    };
    CHECK(run_lookup(io, r, "gh.c.test").first.status == TxtStatus::nxdomain);
  }
  SUBCASE("a silent server: every try, then failed within the bound") {
    auto [a, ms] = run_lookup(io, r, "slow.b.test");
    CHECK(a.status == TxtStatus::failed);
    CHECK(dns.queries.size() == 3);
    CHECK(ms >= 300);
    CHECK(ms < 1000);
    CHECK(r.stats().timeouts == 1);
    // Not cached: the next lookup asks again.
    run_lookup(io, r, "slow.b.test");
    CHECK(dns.queries.size() == 6);
  }
  SUBCASE("garbage, wrong id and wrong name are ignored; the real answer is taken") {
    dns.answer = [](const auto& q) {
      const auto id = tdns::query_id(q);
      const auto name = tdns::query_name(q);
      return std::vector<std::vector<std::uint8_t>>{
          std::vector<std::uint8_t>(30, 0xab),
          tdns::response(static_cast<std::uint16_t>(id + 1), name, 0,
                         {tdns::txt(name, {"v=ntm1 dc=6.6.6.6:1"})}),
          tdns::response(id, "evil.test", 0, {tdns::txt("evil.test", {"v=ntm1 dc=6.6.6.6:1"})}),
          tdns::response(id, name, 0, {tdns::txt(name, {"v=ntm1 dc=127.0.0.1:4600"})})};
    };
    auto [a, ms] = run_lookup(io, r, "cn.b.test");
    REQUIRE(a.status == TxtStatus::ok);
    CHECK(federation::find_marker(a.texts)->to_string() == "127.0.0.1:4600");
    CHECK(r.stats().ignored == 3);
  }
  SUBCASE("an answer from another port is not taken") {
    boost::asio::ip::udp::socket other(io, boost::asio::ip::udp::endpoint(
                                               boost::asio::ip::make_address("127.0.0.1"), 0));
    dns.answer = [&](const auto& q) {
      const auto name = tdns::query_name(q);
      other.send_to(boost::asio::buffer(tdns::response(tdns::query_id(q), name, 0,
                                                       {tdns::txt(name, {"v=ntm1 dc=6.6.6.6:1"})})),
                    dns.from);
      return std::vector<std::vector<std::uint8_t>>{};
    };
    auto [a, ms] = run_lookup(io, r, "cn.b.test");
    CHECK(a.status == TxtStatus::failed);
    CHECK(r.stats().ignored >= 1);
  }
  SUBCASE("concurrent lookups of one name share one query") {
    dns.answer = [](const auto& q) {
      return std::vector<std::vector<std::uint8_t>>{
          tdns::response(tdns::query_id(q), tdns::query_name(q), 0, {})};
    };
    int answered = 0;
    r.lookup("n.b.test", [&](const auto&) { answered++; });
    r.lookup("n.b.test", [&](const auto&) { answered++; });
    for (int i = 0; i < 100 && answered < 2; ++i) io.run_for(std::chrono::milliseconds(10));
    CHECK(answered == 2);
    CHECK(dns.queries.size() == 1);
  }
}

TEST_CASE("system resolver from resolv.conf") {
  char tmpl[] = "/tmp/ntm-fed-resolv-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(tmpl) << "# comment\nsearch example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n";
  CHECK(federation::system_resolver(tmpl).to_string() == "192.0.2.53:53");
  std::ofstream(tmpl) << "search example\n";
  CHECK(federation::system_resolver(tmpl).to_string() == "127.0.0.1:53");
  std::filesystem::remove(tmpl);
}
