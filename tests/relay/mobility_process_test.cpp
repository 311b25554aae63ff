// SPDX-License-Identifier: MIT
// Mobility through a real ntm-rs process (translate off, loopback) between a
// real ntm-dc and two protocol-level nodes: an end moves to a new socket and
// says so with an Update Request, forwarding follows it both ways; stale,
// forged, replayed and wrong-sender updates do not redirect; an update storm
// is rate-limited; the DC re-directs the path (redirect Direction Request:
// a newer epoch, same path) and traffic keeps flowing through the switch.
#include <doctest/doctest.h>
#include <poll.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"
#include "relay_fixture.hpp"
#include "relay_path.hpp"
#include "rs_process.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

// Everything that arrives on s within timeout_ms.
std::vector<std::vector<std::uint8_t>> drain(common::UdpSocket& s, int timeout_ms) {
  std::vector<std::vector<std::uint8_t>> all;
  while (auto d = receive_within(s, timeout_ms)) all.push_back(std::move(*d));
  return all;
}

// The first reply of type T on sock that opens under e's channel.
template <class T>
std::optional<T> reply_of(End& e, common::UdpSocket& sock, int timeout_ms = 1500) {
  while (auto d = receive_within(sock, timeout_ms)) {
    wire::Received r;
    if (e.channel.open(*d, common::wall_ms(), r) != wire::Error::ok) continue;
    if (auto* t = std::get_if<T>(&r.body)) return *t;
  }
  return std::nullopt;
}

std::optional<wire::TunnelResponse> tunnel(End& e, const wire::NodeId& id, common::UdpSocket& sock,
                                           const wire::Endpoint& relay) {
  wire::TunnelRequest t;
  t.sender = id;
  for (int attempt = 0; attempt < 5; ++attempt) {
    sock.send(e.seal(t, 100), relay);
    if (auto r = reply_of<wire::TunnelResponse>(e, sock, 400)) return r;
  }
  return std::nullopt;
}

wire::UpdateRequest update(const wire::NodeId& sender, std::uint32_t seq) {
  wire::UpdateRequest u;
  u.sender = sender;
  u.update_seq = seq;
  return u;
}

// A capsule from `from` to the relay arrives, byte for byte, on `to`.
bool carried(End& e, common::UdpSocket& from, common::UdpSocket& to, const wire::Endpoint& relay) {
  const auto c = e.capsule(64);
  from.send(c, relay);
  const auto got = receive_within(to, 1500);
  return got && *got == c;
}

}  // namespace

TEST_CASE("ntm-rs process: an end moves, forwarding follows, bad updates do not redirect, re-direction keeps traffic flowing") {
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
  dc.start();
  rs.start(0);
  REQUIRE(rs.wait_log("ntm-rs ready: relay endpoint " + relay.to_string(), 40000));

  NodeClient mn(mc, dc.endpoint(), ep("127.0.0.2", 0)), cn(cc, dc.endpoint(), ep("127.0.0.3", 0));
  const auto nd = direct_nated(mn, cn, "cn.test.example");
  const wire::PathId path = nd.path;
  const auto* to_mn = &nd.to_mn;
  REQUIRE(to_mn->route == wire::RouteType::relay);
  REQUIRE(to_mn->relay_key);
  const std::uint8_t epoch = to_mn->key_epoch;
  const auto k_rp = mn.open_key(*to_mn->relay_key, path, epoch, wire::SealedKind::relay_key);
  const auto k_path = mn.open_key(to_mn->path_key, path, epoch, wire::SealedKind::path_key);
  const wire::NodeId mn_id = to_mn->initiator.node_id, cn_id = to_mn->responder.node_id;
  CHECK(mn_id == mc.id);

  common::UdpSocket smn(ep("127.0.0.2", 0)), scn(ep("127.0.0.3", 0)), stranger(ep("127.0.0.4", 0));
  End emn(k_rp, k_path, path, epoch, true), ecn(k_rp, k_path, path, epoch, false);
  REQUIRE(tunnel(emn, mn_id, smn, relay));
  REQUIRE(tunnel(ecn, cn_id, scn, relay));
  REQUIRE(carried(emn, smn, scn, relay));
  REQUIRE(carried(ecn, scn, smn, relay));

  // The MN moves: a new socket on another address (another network).
  common::UdpSocket smn2(ep("127.0.0.5", 0));
  smn2.send(emn.seal(update(mn_id, 1), 41), relay);
  auto ur = reply_of<wire::UpdateResponse>(emn, smn2);
  REQUIRE(ur);
  CHECK(ur->status == wire::Status::ok);
  CHECK(ur->update_seq == 1);
  CHECK(ur->observed == smn2.local());
  CHECK(carried(ecn, scn, smn2, relay));  // CN -> MN: to the new place
  CHECK(carried(emn, smn2, scn, relay));  // MN -> CN: from the new place
  CHECK_FALSE(carried(emn, smn, scn, relay));  // not from the old one
  CHECK(drain(smn, 200).empty());              // and nothing goes there

  // The same seq again from the old place: stale, nothing moves; a
  // retransmission (a new datagram, same seq) from the new place: ok.
  smn.send(emn.seal(update(mn_id, 1)), relay);
  ur = reply_of<wire::UpdateResponse>(emn, smn);
  REQUIRE(ur);
  CHECK(ur->status == wire::Status::stale_update);
  smn2.send(emn.seal(update(mn_id, 1)), relay);
  ur = reply_of<wire::UpdateResponse>(emn, smn2);
  REQUIRE(ur);
  CHECK(ur->status == wire::Status::ok);
  CHECK(carried(ecn, scn, smn2, relay));

  // Forged, replayed, wrong sender, another path's key, all from a stranger:
  // no answer, no redirect.
  auto forged = emn.seal(update(mn_id, 9));
  forged[forged.size() - 3] ^= 0x10;
  stranger.send(forged, relay);
  const auto genuine = emn.seal(update(mn_id, 2));
  smn2.send(genuine, relay);
  REQUIRE(reply_of<wire::UpdateResponse>(emn, smn2));
  stranger.send(genuine, relay);  // replayed
  stranger.send(emn.seal(update(cn_id, 10)), relay);
  End other(wire::SecretKey::random(), k_path, path, epoch, true);
  stranger.send(other.seal(update(mn_id, 11)), relay);
  CHECK(drain(stranger, 300).empty());
  CHECK(carried(ecn, scn, smn2, relay));
  CHECK(carried(emn, smn2, scn, relay));

  // A storm: the CN (whose budget is untouched) sends 30 updates at once.
  for (std::uint32_t s = 1; s <= 30; ++s) scn.send(ecn.seal(update(cn_id, s)), relay);
  const auto answers = drain(scn, 300).size();
  CHECK(answers >= relay::kUpdateBurst);
  CHECK(answers < 15);  // 10 + 5/s for however long the burst took
  CHECK(carried(emn, smn2, scn, relay));

  auto js = nlohmann::json::parse(rs.status(true, &st));
  REQUIRE(js["paths"].size() == 1);
  CHECK(js["paths"][0]["initiator"] == smn2.local().to_string());
  CHECK(js["paths"][0]["responder"] == scn.local().to_string());
  CHECK(js["paths"][0]["update_seq"][0] == 2);
  CHECK(js["mobility"]["updates_accepted"] >= 2 + relay::kUpdateBurst);
  CHECK(js["mobility"]["updates_stale"] == 1);
  CHECK(js["mobility"]["updates_repeated"] == 1);
  CHECK(js["mobility"]["updates_refused"] == 4);
  CHECK(js["mobility"]["updates_rate_limited"] >= 15);
  CHECK(js["drops"]["wrong_sender"] == 1);

  // The DC re-directs the path (the MN asks after its move): a newer epoch,
  // same path, same relay.  Until the ends speak under it, both epochs' traffic
  // is carried to the endpoints the RS knows.
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, true});
  auto to_cn2 = accept_direction(cn, 8000);
  REQUIRE(to_cn2);
  auto to_mn2 = accept_direction(mn, 8000);
  REQUIRE(to_mn2);
  REQUIRE(to_mn2->route == wire::RouteType::relay);
  REQUIRE(to_mn2->relay == relay);
  const std::uint8_t epoch2 = to_mn2->key_epoch;
  REQUIRE(epoch2 != epoch);
  REQUIRE(rs.wait_log("re-directed, epoch " + std::to_string(epoch) + " -> " +
                          std::to_string(epoch2),
                      5000));
  const auto k_rp2 = mn.open_key(*to_mn2->relay_key, path, epoch2, wire::SealedKind::relay_key);
  const auto k_path2 = mn.open_key(to_mn2->path_key, path, epoch2, wire::SealedKind::path_key);
  CHECK_FALSE(k_rp2.equals(k_rp));
  End emn2(k_rp2, k_path2, path, epoch2, true), ecn2(k_rp2, k_path2, path, epoch2, false);
  CHECK(carried(emn, smn2, scn, relay));
  CHECK(carried(ecn, scn, smn2, relay));
  // The MN switches from yet another place; the CN has not switched yet.
  common::UdpSocket smn3(ep("127.0.0.6", 0));
  const auto t = tunnel(emn2, mn_id, smn3, relay);
  REQUIRE(t);
  CHECK(t->observed == smn3.local());
  CHECK(carried(emn2, smn3, scn, relay));
  CHECK(carried(ecn, scn, smn3, relay));
  js = nlohmann::json::parse(rs.status(true, &st));
  CHECK(js["paths"][0]["key_epoch"] == epoch2);
  CHECK(js["paths"][0]["previous_epoch"] == epoch);
  // The CN switches: the old epoch is gone.
  REQUIRE(tunnel(ecn2, cn_id, scn, relay));
  CHECK(carried(ecn2, scn, smn3, relay));
  CHECK(carried(emn2, smn3, scn, relay));
  CHECK_FALSE(carried(ecn, scn, smn3, relay));
  js = nlohmann::json::parse(rs.status(true, &st));
  CHECK(js["paths"][0]["previous_epoch"].is_null());
  CHECK(js["paths"][0]["redirections"] == 1);
  CHECK(js["mobility"]["redirections"] == 1);
  const std::string text = rs.status(false);
  CHECK(text.find("mobility: updates accepted") != std::string::npos);
  CHECK(rs.stop() == 0);
  CHECK(rs.log().find("ntm-rs: mobility:") != std::string::npos);
}
