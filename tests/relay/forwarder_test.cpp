// SPDX-License-Identifier: MIT
// The RS's rules, in-process: Relay Directions, the ends' RELAY_PATH
// requests, forwarding only from the recorded endpoint to the other one,
// the counted drops, idle expiry, and translation towards a general host.
#include <doctest/doctest.h>

#include "packets.hpp"
#include "relay_fixture.hpp"

using namespace ntm;
using namespace ntm::test;
using wire::RelayMode;
using wire::Status;

namespace {

wire::PathId random_path() {
  wire::PathId p;
  wire::random_bytes(p.bytes);
  return p;
}

template <class T>
T open_reply(End& e, const Sent& s, const wire::Endpoint& expect_to) {
  CHECK(s.to == expect_to);
  wire::Received r;
  REQUIRE(e.channel.open(s.data, common::wall_ms(), r) == wire::Error::ok);
  REQUIRE(std::holds_alternative<T>(r.body));
  return std::get<T>(r.body);
}

}  // namespace

TEST_CASE("forward: tunnel requests record the ends, a capsule goes only from one end to the other") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k_rp = wire::SecretKey::random(), k_path = wire::SecretKey::random();
  REQUIRE(rs.direct(path, 3, RelayMode::forward, k_rp) == Status::ok);
  End mn(k_rp, k_path, path, 3, true), cn(k_rp, k_path, path, 3, false);
  const auto a = endpoint("198.51.100.2", 40001), b = endpoint("203.0.113.7", 40002);
  const auto stranger = endpoint("192.0.2.66", 40003);

  // Before any end is known: nothing is forwarded.
  rs.receive(mn.capsule(20), a);
  CHECK(rs.sink.out.empty());
  CHECK(rs.drops.foreign_source == 1);

  rs.receive(mn.seal(tunnel_request()), a);
  REQUIRE(rs.sink.out.size() == 1);
  auto resp = open_reply<wire::TunnelResponse>(mn, rs.sink.out[0], a);
  CHECK(resp.status == Status::ok);
  CHECK(resp.observed == a);
  CHECK(resp.sender.is_zero());

  // The other end is still unknown.
  rs.receive(mn.capsule(20), a);
  CHECK(rs.drops.peer_unknown == 1);
  CHECK(rs.sink.out.size() == 1);

  rs.receive(cn.seal(tunnel_request()), b);
  REQUIRE(rs.sink.out.size() == 2);
  CHECK(open_reply<wire::TunnelResponse>(cn, rs.sink.out[1], b).observed == b);

  const auto c1 = mn.capsule(100);
  rs.receive(c1, a);
  REQUIRE(rs.sink.out.size() == 3);
  CHECK(rs.sink.out[2].to == b);
  CHECK(rs.sink.out[2].data == c1);  // byte for byte
  const auto c2 = cn.capsule(0);    // a path keepalive
  rs.receive(c2, b);
  REQUIRE(rs.sink.out.size() == 4);
  CHECK(rs.sink.out[3].to == a);
  CHECK(rs.sink.out[3].data == c2);

  // The same capsule from a stranger, or the MN's capsule from the CN's
  // address: foreign.
  rs.receive(mn.capsule(10), stranger);
  rs.receive(mn.capsule(10), b);
  CHECK(rs.drops.foreign_source == 3);
  CHECK(rs.sink.out.size() == 4);

  // Unknown path, wrong epoch.
  End other(k_rp, k_path, random_path(), 3, true);
  rs.receive(other.capsule(10), a);
  End old(k_rp, k_path, path, 2, true);
  rs.receive(old.capsule(10), a);
  CHECK(rs.drops.unknown_path == 2);
  CHECK(rs.sink.out.size() == 4);
  const auto* p = rs.paths.find(path);
  REQUIRE(p);
  CHECK(p->forwarded == 2);
  CHECK(p->bytes == c1.size() + c2.size());
}

TEST_CASE("forward: tampered, replayed and misdirected requests are ignored") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k_rp = wire::SecretKey::random(), k_path = wire::SecretKey::random();
  REQUIRE(rs.direct(path, 0, RelayMode::forward, k_rp) == Status::ok);
  End mn(k_rp, k_path, path, 0, true);
  const auto a = endpoint("198.51.100.2", 40001);
  auto req = mn.seal(tunnel_request());
  auto tampered = req;
  tampered[60] ^= 1;
  rs.receive(tampered, a);
  CHECK(rs.sink.out.empty());
  CHECK(rs.drops.auth_failed == 1);
  rs.receive(req, a);
  CHECK(rs.sink.out.size() == 1);
  rs.receive(req, endpoint("192.0.2.66", 1));  // replayed from elsewhere
  CHECK(rs.sink.out.size() == 1);
  CHECK(rs.drops.auth_failed == 2);
  CHECK(*rs.paths.find(path)->endpoint[relay::kInitiator] == a);
  // Under a key that is not the path's.
  End wrong(wire::SecretKey::random(), k_path, path, 0, true);
  rs.receive(wrong.seal(tunnel_request()), a);
  CHECK(rs.drops.auth_failed == 3);
  // Garbage, and the RS's own roles, and a DC-domain message not for us.
  rs.receive({1, 2, 3}, a);
  auto own = req;
  own[2] = 0x0a;  // RELAY_PATH rs_to_initiator
  rs.receive(own, a);
  auto dc = req;
  dc[2] = 0x04;  // NODE_DC dc, but a path id
  rs.receive(dc, a);
  CHECK(rs.drops.malformed == 3);
  CHECK(rs.sink.out.size() == 1);
}

TEST_CASE("forward: update requests move an end only with a higher update_seq") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k_rp = wire::SecretKey::random(), k_path = wire::SecretKey::random();
  REQUIRE(rs.direct(path, 0, RelayMode::forward, k_rp) == Status::ok);
  End cn(k_rp, k_path, path, 0, false);
  const auto a = endpoint("198.51.100.2", 40001), a2 = endpoint("198.51.100.3", 40009);
  rs.receive(cn.seal(tunnel_request()), a);
  wire::UpdateRequest u;
  u.update_seq = 5;
  rs.receive(cn.seal(u), a2);
  REQUIRE(rs.sink.out.size() == 2);
  auto r = open_reply<wire::UpdateResponse>(cn, rs.sink.out[1], a2);
  CHECK(r.status == Status::ok);
  CHECK(r.update_seq == 5);
  CHECK(r.observed == a2);
  CHECK(*rs.paths.find(path)->endpoint[relay::kResponder] == a2);
  rs.receive(cn.seal(u), a);  // the same seq again, from the old place
  REQUIRE(rs.sink.out.size() == 3);
  r = open_reply<wire::UpdateResponse>(cn, rs.sink.out[2], a);
  CHECK(r.status == Status::stale_update);
  CHECK(*rs.paths.find(path)->endpoint[relay::kResponder] == a2);
}

TEST_CASE("relay direction: idempotent, refused when full, when translate is off, when the key does not open") {
  auto cfg = test_config();
  cfg.translate = false;
  cfg.max_paths = 2;
  RelayUnderTest rs(cfg);
  const auto p1 = random_path(), p2 = random_path(), p3 = random_path();
  const auto k = wire::SecretKey::random();
  REQUIRE(rs.direct(p1, 0, RelayMode::forward, k) == Status::ok);
  End mn(k, k, p1, 0, true);
  rs.receive(mn.seal(tunnel_request()), endpoint("198.51.100.2", 1));
  // The same direction again (a retransmission): same answer, state kept.
  CHECK(rs.direct(p1, 0, RelayMode::forward, k) == Status::ok);
  CHECK(rs.paths.find(p1)->endpoint[relay::kInitiator]);
  CHECK(rs.paths.size() == 1);
  CHECK(rs.direct(p2, 0, RelayMode::translate, k) == Status::refused);
  REQUIRE(rs.direct(p2, 0, RelayMode::forward, k) == Status::ok);
  CHECK(rs.dc.install({}, rs.now()) == Status::refused);  // full (and a zero key)
  CHECK(rs.direct(p3, 0, RelayMode::forward, k) == Status::refused);
  // A newer epoch re-keys the path in place (it keeps its endpoints: the
  // ends are carried on until they speak under the new epoch), full or not.
  CHECK(rs.direct(p1, 1, RelayMode::forward, k) == Status::ok);
  CHECK(rs.paths.find(p1)->key_epoch == 1);
  CHECK(rs.paths.find(p1)->endpoint[relay::kInitiator]);
  // An older one is refused and changes nothing.
  CHECK(rs.direct(p1, 0, RelayMode::forward, k) == Status::refused);
  CHECK(rs.paths.find(p1)->key_epoch == 1);
  CHECK(rs.paths.load_permille() == 1000);
  // A key sealed for another relay does not open.
  RelayUnderTest other;
  wire::KeyWrapper w(other.cfg.key, wire::KeyDomain::node_dc, 0, other.cfg.id.bytes);
  wire::RelayDirection d;
  d.path_id = p3;
  d.relay_key = w.seal(k, p3, 0, wire::SealedKind::relay_key);
  RelayUnderTest roomy;
  CHECK(roomy.dc.install(d, roomy.now()) == Status::refused);
  // Nor a K_rp passed off as a general key.
  d.mode = RelayMode::translate;
  CHECK(other.dc.install(d, other.now()) == Status::refused);
}

TEST_CASE("relay direction: answered to the DC cluster member that sent it") {
  RelayUnderTest rs;
  // The DC's side of K_rs, as any member of its cluster holds it.
  wire::ChannelConfig dcc;
  dcc.domain = wire::KeyDomain::node_dc;
  dcc.tx_role = wire::Role::dc;
  dcc.rx_role = wire::Role::node;
  dcc.tx_id = dcc.rx_id = rs.cfg.id.bytes;
  dcc.instance = wire::new_instance();
  dcc.first_counter = wire::initial_counter(common::wall_ns());
  wire::ControlChannel member(rs.cfg.key, dcc);
  const auto path = random_path();
  const auto k = wire::SecretKey::random();
  wire::KeyWrapper w(rs.cfg.key, wire::KeyDomain::node_dc, rs.cfg.key_epoch, rs.cfg.id.bytes);
  wire::RelayDirection d;
  d.path_id = path;
  wire::random_bytes(d.initiator.node_id.bytes);
  wire::random_bytes(d.responder.node_id.bytes);
  d.initiator.fqdn.name = "mn.test.example";
  d.responder.fqdn.name = "cn.test.example";
  d.relay_key = w.seal(k, path, 0, wire::SealedKind::relay_key);
  d.idle_timeout_s = 30;
  std::vector<std::uint8_t> dg(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  dg.resize(member.seal(d, 9, common::wall_ms(), dg, err));
  REQUIRE_MESSAGE(!dg.empty(), wire::to_string(err));
  // Not the member in the relay's file (cfg.dc): another one.
  const auto other_member = endpoint("127.0.0.1", 4599);
  REQUIRE(other_member != rs.cfg.dc);
  rs.receive(dg, other_member);
  REQUIRE(rs.sink.out.size() == 1);
  CHECK(rs.sink.out[0].to == other_member);
  wire::Received r;
  REQUIRE(member.open(rs.sink.out[0].data, common::wall_ms(), r) == wire::Error::ok);
  REQUIRE(std::holds_alternative<wire::RelayResponse>(r.body));
  CHECK(std::get<wire::RelayResponse>(r.body).status == Status::ok);
  CHECK(r.header.txid == 9);
  CHECK(rs.paths.find(path));
}

TEST_CASE("paths expire after their idle timeout, traffic keeps them") {
  RelayUnderTest rs;
  const auto p1 = random_path(), p2 = random_path();
  const auto k = wire::SecretKey::random();
  REQUIRE(rs.direct(p1, 0, RelayMode::forward, k, 10) == Status::ok);
  REQUIRE(rs.direct(p2, 0, RelayMode::forward, k, 10) == Status::ok);
  End mn(k, k, p2, 0, true);
  rs.clock_offset_ms = 8000;
  rs.receive(mn.seal(tunnel_request()), endpoint("198.51.100.2", 1));
  rs.clock_offset_ms = 12000;
  CHECK(rs.paths.expire(rs.now().mono_ms) == 1);
  CHECK_FALSE(rs.paths.find(p1));
  CHECK(rs.paths.find(p2));
  rs.clock_offset_ms = 19000;
  CHECK(rs.paths.expire(rs.now().mono_ms) == 1);
  CHECK(rs.paths.size() == 0);
}

TEST_CASE("translate: the MN's tunnel request, capsules into the TUN, replies sealed back") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k = wire::SecretKey::random();
  wire::NodeInfo mn_info, host;
  mn_info.vip.addr = 0x64400007;
  host.vip.addr = 0x64400101;
  host.real = endpoint("198.51.100.9", 0);
  REQUIRE(rs.direct(path, 1, RelayMode::translate, k, 30, mn_info, host) == Status::ok);
  wire::ChannelConfig cc;
  cc.domain = wire::KeyDomain::path;
  cc.key_epoch = 1;
  cc.tx_role = wire::Role::initiator;
  cc.rx_role = wire::Role::responder;
  cc.tx_id = cc.rx_id = path.bytes;
  cc.instance = 9;
  cc.first_counter = 100;
  wire::ControlChannel mn(k, cc);
  wire::CapsuleSealer seal(k, wire::Role::initiator, path, 1);
  wire::CapsuleOpener open(k, wire::Role::responder, path, 1);
  const auto a = endpoint("203.0.113.5", 4520);

  std::vector<std::uint8_t> buf(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  buf.resize(mn.seal(tunnel_request(), 1, common::wall_ms(), buf, err));
  rs.receive(buf, a);
  REQUIRE(rs.sink.out.size() == 1);
  wire::Received r;
  REQUIRE(mn.open(rs.sink.out[0].data, common::wall_ms(), r) == wire::Error::ok);
  CHECK(std::get<wire::TunnelResponse>(r.body).observed == a);

  auto send_inner = [&](const std::vector<std::uint8_t>& pkt) {
    std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD + pkt.size());
    std::copy(pkt.begin(), pkt.end(), f.begin() + NTM_HDR_LEN);
    REQUIRE(seal.seal(f, pkt.size(), err) == f.size());
    rs.receive(f, a);
  };
  for (std::uint8_t proto : {relay::kProtoTcp, relay::kProtoUdp, relay::kProtoIcmp}) {
    CAPTURE(int(proto));
    const std::size_t before = rs.sink.out.size();
    send_inner(make_packet(proto, 0x64400007, 0x64400101, 33));
    REQUIRE(rs.sink.out.size() == before + 1);
    const Sent& s = rs.sink.out.back();
    CHECK(s.tun);
    CHECK(get32(s.data, 16) == 0xc6336409);
    CHECK(get32(s.data, 12) == 0x64400007);
    CHECK(ip_checksum_ok(s.data));
    CHECK(l4_checksum_ok(s.data));

    // The host's reply as the kernel de-NATs it into the TUN.
    auto reply = make_packet(proto, 0xc6336409, 0x64400007, 17, true, 0);
    std::vector<std::uint8_t> frame(2048);
    std::copy(reply.begin(), reply.end(), frame.begin() + NTM_HDR_LEN);
    rs.fwd.on_tun_packet(frame, reply.size(), rs.sink, rs.now());
    REQUIRE(rs.sink.out.size() == before + 2);
    const Sent& back = rs.sink.out.back();
    CHECK(back.to == a);
    auto d = back.data;
    std::span<std::uint8_t> inner;
    REQUIRE(open.open(d, inner) == wire::Error::ok);
    REQUIRE(inner.size() == reply.size());
    CHECK(get32(inner, 12) == 0x64400101);  // the host's VIP again
    CHECK(ip_checksum_ok(inner));
    CHECK(l4_checksum_ok(inner));
  }
  const std::size_t n = rs.sink.out.size();
  // Spoofed source, another destination, a non-echo ICMP: bad_inner.
  send_inner(make_packet(relay::kProtoUdp, 0x64400008, 0x64400101));
  send_inner(make_packet(relay::kProtoUdp, 0x64400007, 0x64400102));
  send_inner(make_packet(relay::kProtoIcmp, 0x64400007, 0x64400101, 8, true, 3));
  CHECK(rs.drops.bad_inner == 3);
  // A keepalive is accepted and goes nowhere.
  send_inner({});
  CHECK(rs.sink.out.size() == n);
  // A reply for which no path exists.
  auto stray = make_packet(relay::kProtoUdp, 0xc6336409, 0x64400009);
  std::vector<std::uint8_t> frame(2048);
  std::copy(stray.begin(), stray.end(), frame.begin() + NTM_HDR_LEN);
  rs.fwd.on_tun_packet(frame, stray.size(), rs.sink, rs.now());
  CHECK(rs.drops.unknown_path == 1);
  CHECK(rs.sink.out.size() == n);
  // A capsule under the wrong key, and a RELAY_PATH request for a translate path.
  wire::CapsuleSealer wrong(wire::SecretKey::random(), wire::Role::initiator, path, 1);
  std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD + 4);
  REQUIRE(wrong.seal(f, 4, err));
  rs.receive(f, a);
  CHECK(rs.drops.auth_failed == 1);
  End e(k, k, path, 1, true);
  rs.receive(e.seal(tunnel_request()), a);
  CHECK(rs.drops.unknown_path == 2);
  CHECK(rs.sink.out.size() == n);
}
