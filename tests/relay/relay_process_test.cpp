// SPDX-License-Identifier: MIT
// ntm-rs as a process (translate off, on 127.0.0.1) between a real ntm-dc
// and two protocol-level nodes on other loopback addresses: registration
// (with retries while the DC is not up yet), a Relay Direction, both ends'
// RELAY_PATH Tunnel Requests, capsules carried byte for byte, and what must
// not be carried.
#include <doctest/doctest.h>
#include <poll.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"
#include "relay_fixture.hpp"
#include "rs_process.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

// Sends a Tunnel Request from sock (retried like a node would) and returns
// the opened Tunnel Response.
std::optional<wire::TunnelResponse> tunnel(End& e, common::UdpSocket& sock,
                                           const wire::Endpoint& relay) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    sock.send(e.seal(tunnel_request(), 100), relay);
    while (auto d = receive_within(sock, 400)) {
      wire::Received r;
      if (e.channel.open(*d, common::wall_ms(), r) != wire::Error::ok) continue;
      if (auto* t = std::get_if<wire::TunnelResponse>(&r.body)) return *t;
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("ntm-rs forwards a relayed path between two NATed nodes, and nothing else") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  int st = 0;
  const std::string relay_conf = dc.cli({"relay", "add", "relay.test.example", "-o", "-"}, &st);
  REQUIRE(st == 0);
  const auto relay = ep("127.0.0.1", static_cast<std::uint16_t>(free_udp_port()));
  RsProcess rs(relay_conf, "listen = " + relay.to_string() + "\ntranslate = off\n");
  // The RS first: it keeps trying to register until the DC is up.
  rs.start(0);
  CHECK(rs.wait_log("no answer from", 8000));
  dc.start();
  REQUIRE(rs.wait_log("ntm-rs ready: relay endpoint " + relay.to_string(), 40000));

  NodeClient mn(mc, dc.endpoint(), ep("127.0.0.2", 0)), cn(cc, dc.endpoint(), ep("127.0.0.3", 0));
  const auto nd = direct_nated(mn, cn, "cn.test.example");
  const wire::PathId path = nd.path;
  const auto* to_mn = &nd.to_mn;
  const auto* to_cn = &nd.to_cn;
  CHECK(to_mn->route == wire::RouteType::relay);
  CHECK(to_mn->relay == relay);
  CHECK(to_cn->relay == relay);
  REQUIRE(to_mn->relay_key);
  REQUIRE(to_cn->relay_key);
  const std::uint8_t epoch = to_mn->key_epoch;
  const auto k_rp = mn.open_key(*to_mn->relay_key, path, epoch, wire::SealedKind::relay_key);
  const auto k_path = mn.open_key(to_mn->path_key, path, epoch, wire::SealedKind::path_key);
  CHECK(cn.open_key(*to_cn->relay_key, path, epoch, wire::SealedKind::relay_key).equals(k_rp));

  common::UdpSocket smn(ep("127.0.0.2", 0)), scn(ep("127.0.0.3", 0)), stranger(ep("127.0.0.4", 0));
  End emn(k_rp, k_path, path, epoch, true), ecn(k_rp, k_path, path, epoch, false);

  // A capsule before either end is known goes nowhere.
  smn.send(emn.capsule(10), relay);
  const auto t_mn = tunnel(emn, smn, relay);
  REQUIRE(t_mn);
  CHECK(t_mn->status == wire::Status::ok);
  CHECK(t_mn->observed == smn.local());
  const auto t_cn = tunnel(ecn, scn, relay);
  REQUIRE(t_cn);
  CHECK(t_cn->observed == scn.local());

  // Capsules both ways, byte for byte.
  const auto c1 = emn.capsule(200);
  smn.send(c1, relay);
  auto got = receive_within(scn, 2000);
  REQUIRE(got);
  CHECK(*got == c1);
  wire::CapsuleOpener at_cn(k_path, wire::Role::initiator, path, epoch);
  std::span<std::uint8_t> payload;
  CHECK(at_cn.open(*got, payload) == wire::Error::ok);
  const auto c2 = ecn.capsule(0);
  scn.send(c2, relay);
  got = receive_within(smn, 2000);
  REQUIRE(got);
  CHECK(*got == c2);

  // A third socket's capsule (a valid one, even) is not carried.
  stranger.send(emn.capsule(10), relay);
  CHECK_FALSE(receive_within(scn, 300));
  // A replayed Tunnel Request and a tampered one are not answered.
  auto req = emn.seal(tunnel_request(), 55);
  smn.send(req, relay);
  REQUIRE(receive_within(smn, 2000));
  smn.send(req, relay);
  auto tampered = emn.seal(tunnel_request(), 56);
  tampered[tampered.size() - 1] ^= 0x80;
  smn.send(tampered, relay);
  CHECK_FALSE(receive_within(smn, 300));
  // A path the DC never directed: neither its requests nor its capsules.
  const auto other = random_path();
  End stray(k_rp, k_path, other, epoch, true);
  smn.send(stray.seal(tunnel_request()), relay);
  smn.send(stray.capsule(10), relay);
  CHECK_FALSE(receive_within(smn, 300));
  CHECK_FALSE(receive_within(scn, 300));

  const auto js = nlohmann::json::parse(rs.status(true, &st));
  CHECK(st == 0);
  CHECK(js["registered"] == true);
  CHECK(js["relay_endpoint"] == relay.to_string());
  REQUIRE(js["paths"].size() == 1);
  CHECK(js["paths"][0]["path_id"] == path.to_hex());
  CHECK(js["paths"][0]["mode"] == "forward");
  CHECK(js["paths"][0]["initiator"] == smn.local().to_string());
  CHECK(js["paths"][0]["responder"] == scn.local().to_string());
  CHECK(js["paths"][0]["forwarded"] == 2);
  CHECK(js["drops"]["foreign_source"] >= 2);
  CHECK(js["drops"]["auth_failed"] >= 2);
  CHECK(js["drops"]["unknown_path"] >= 2);
  const std::string text = rs.status(false);
  CHECK(text.find("registered:     yes") != std::string::npos);
  CHECK(text.find(path.to_hex()) != std::string::npos);
  // The DC saw the relay's load through its keepalives (or its answer).
  CHECK(rs.stop() == 0);
  CHECK(rs.log().find("ntm-rs: stopped") != std::string::npos);
  // Keys never reach the log.
  CHECK(rs.log().find(k_rp.to_hex()) == std::string::npos);
}
