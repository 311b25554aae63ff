// SPDX-License-Identifier: MIT
// Control framing: round trips in every key domain, known answer against
// the independent Python reference, and every rejection path (wrong key,
// flipped bit, replay, stale, reflection, wrong epoch).
#include "ntm/wire/control_channel.hpp"

#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "wire/hex.hpp"
#include "wire/sample_messages.hpp"

using namespace ntm::wire;

namespace {

constexpr std::uint64_t kNow = 1'700'000'000'000ull;

struct Pair {
  ControlChannel node;
  ControlChannel dc;
};

ChannelConfig cfg(Role tx, Role rx, const NodeId& id, std::uint32_t instance) {
  ChannelConfig c;
  c.domain = KeyDomain::node_dc;
  c.tx_role = tx;
  c.rx_role = rx;
  c.tx_id = id.bytes;
  c.rx_id = id.bytes;
  c.instance = instance;
  c.first_counter = initial_counter(kNow * 1'000'000);
  return c;
}

Pair node_dc_pair(const SecretKey& k, const NodeId& id) {
  return {ControlChannel(k, cfg(Role::node, Role::dc, id, 11)),
          ControlChannel(k, cfg(Role::dc, Role::node, id, 22))};
}

std::vector<std::uint8_t> seal(ControlChannel& ch, const Body& b, std::uint64_t now = kNow,
                               std::uint32_t txid = 1) {
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = ch.seal(b, txid, now, out, err);
  REQUIRE(err == Error::ok);
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("node <-> DC round trip of every message the pair may send") {
  const SecretKey k = SecretKey::random();
  auto p = node_dc_pair(k, ntm::test::node_id(1));
  for (const Body& b : ntm::test::sample_bodies()) {
    const MsgType t = type_of(b);
    CAPTURE(to_string(t));
    ControlChannel* tx = nullptr;
    ControlChannel* rx = nullptr;
    if (allowed(t, KeyDomain::node_dc, Role::node)) tx = &p.node, rx = &p.dc;
    else if (allowed(t, KeyDomain::node_dc, Role::dc)) tx = &p.dc, rx = &p.node;
    else continue;
    const auto dgram = seal(*tx, b, kNow, 77);
    Received r;
    REQUIRE(rx->open(dgram, kNow + 5, r) == Error::ok);
    CHECK(r.body == b);
    CHECK(r.header.txid == 77);
    CHECK(r.header.common.type == t);
  }
}

TEST_CASE("a sender may not seal a type its role must not send") {
  const SecretKey k = SecretKey::random();
  auto p = node_dc_pair(k, ntm::test::node_id(1));
  std::array<std::uint8_t, NTM_MAX_CONTROL> out{};
  Error err = Error::ok;
  CHECK(p.node.seal(RegistrationResponse{}, 1, kNow, out, err) == 0);
  CHECK(err == Error::bad_domain);
}

TEST_CASE("path, relay-path and DC-to-DC channels") {
  const SecretKey k = SecretKey::random();
  const PathId path = ntm::test::path_id(4);
  ChannelConfig a;
  a.domain = KeyDomain::relay_path;
  a.tx_role = Role::initiator;
  a.rx_role = Role::rs_to_initiator;
  a.tx_id = a.rx_id = path.bytes;
  ChannelConfig rs = a;
  rs.tx_role = Role::rs_to_initiator;
  rs.rx_role = Role::initiator;
  ControlChannel mn(k, a), relay(k, rs);
  const Body req = ntm::test::sample_bodies()[7];  // TunnelRequest
  Received r;
  REQUIRE(relay.open(seal(mn, req), kNow, r) == Error::ok);
  CHECK(r.body == req);
  const Body resp = TunnelResponse{Status::ok, {}, ntm::test::ep4(198, 51, 100, 2, 1)};
  REQUIRE(mn.open(seal(relay, resp), kNow, r) == Error::ok);
  CHECK(r.body == resp);

  // DC to DC: each side sends under its own ID.
  DcId dc1, dc2;
  dc1.bytes[0] = 1;
  dc2.bytes[0] = 2;
  ChannelConfig c1;
  c1.domain = KeyDomain::dc_peer;
  c1.tx_role = c1.rx_role = Role::peer_dc;
  c1.tx_id = dc1.bytes;
  c1.rx_id = dc2.bytes;
  ChannelConfig c2 = c1;
  c2.tx_id = dc2.bytes;
  c2.rx_id = dc1.bytes;
  ControlChannel d1(k, c1), d2(k, c2);
  const Body q = NodeInfoRequest{Fqdn{"cn.other.example"}, Fqdn{"mn.ntm.example"}};
  REQUIRE(d2.open(seal(d1, q), kNow, r) == Error::ok);
  CHECK(r.body == q);
  // d1's own message does not open at d1 (reflection).
  ControlChannel d1b(k, c1);
  CHECK(d1b.open(seal(d1, q), kNow, r) == Error::unknown_key);
}

TEST_CASE("known answer: Keepalive sealed as the Python reference seals it") {
  // tests/interop/ntm_ref.py, written from docs/protocol.md with
  // python3-cryptography, printed this datagram.
  const auto expected = ntm::test::unhex(
      "010e00000102030417979cfe362a0000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000018bcfe56800deadbeef00"
      "00000055ba2b910b6ae46fb66850ab3ef145a9653c13115c67");
  std::array<std::uint8_t, 32> kb;
  kb.fill(0xa5);
  const SecretKey k{std::span<const std::uint8_t, 32>(kb)};
  NodeId id;
  for (std::size_t i = 0; i < 16; ++i) id.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  ChannelConfig c = cfg(Role::node, Role::dc, id, 0x01020304);
  c.first_counter = 1'700'000'000'000'000'000ull;
  ControlChannel node(k, c);
  const auto got = seal(node, Keepalive{12, 345}, 1'700'000'000'000ull, 0xdeadbeef);
  CHECK(got == expected);
  ControlChannel dc(k, cfg(Role::dc, Role::node, id, 9));
  Received r;
  REQUIRE(dc.open(expected, 1'700'000'000'000ull, r) == Error::ok);
  CHECK(r.body == Body{Keepalive{12, 345}});
}

TEST_CASE("wrong key, flipped bits and truncation never open") {
  const SecretKey k = SecretKey::random();
  const NodeId id = ntm::test::node_id(1);
  auto p = node_dc_pair(k, id);
  const auto dgram = seal(p.node, ntm::test::sample_bodies()[0]);

  auto other = node_dc_pair(SecretKey::random(), id);
  Received r;
  CHECK(other.dc.open(dgram, kNow, r) == Error::auth_failed);

  // Every single-bit flip anywhere in the datagram is caught: by the header
  // checks or by the tag.
  for (std::size_t i = 0; i < dgram.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = dgram;
      bad[i] ^= static_cast<std::uint8_t>(1 << bit);
      auto fresh = node_dc_pair(k, id);
      CAPTURE(i);
      CHECK(fresh.dc.open(bad, kNow, r) != Error::ok);
    }
  }
  for (std::size_t n = 0; n < dgram.size(); ++n) {
    auto fresh = node_dc_pair(k, id);
    CHECK(fresh.dc.open(std::span(dgram).first(n), kNow, r) != Error::ok);
  }
  // And the untouched datagram still opens.
  CHECK(p.dc.open(dgram, kNow, r) == Error::ok);
}

TEST_CASE("replays are rejected, reordering inside the window is not") {
  const SecretKey k = SecretKey::random();
  auto p = node_dc_pair(k, ntm::test::node_id(1));
  const Body ka = Keepalive{};
  const auto m1 = seal(p.node, ka);
  const auto m2 = seal(p.node, ka);
  const auto m3 = seal(p.node, ka);
  Received r;
  CHECK(p.dc.open(m1, kNow, r) == Error::ok);
  CHECK(p.dc.open(m3, kNow, r) == Error::ok);
  CHECK(p.dc.open(m1, kNow, r) == Error::replayed);
  CHECK(p.dc.open(m2, kNow, r) == Error::ok);  // late, inside the window
  CHECK(p.dc.open(m2, kNow, r) == Error::replayed);
  CHECK(p.dc.open(m3, kNow, r) == Error::replayed);
}

TEST_CASE("a forged datagram does not move the replay window") {
  const SecretKey k = SecretKey::random();
  auto p = node_dc_pair(k, ntm::test::node_id(1));
  const auto m1 = seal(p.node, Keepalive{});
  // A forgery with a far-future counter: fails authentication, and the
  // genuine message afterwards is still accepted.
  auto forged = m1;
  for (int i = 8; i < 15; ++i) forged[i] = 0x7f;
  Received r;
  CHECK(p.dc.open(forged, kNow, r) == Error::auth_failed);
  CHECK(p.dc.open(m1, kNow, r) == Error::ok);
}

TEST_CASE("stale and future timestamps are rejected") {
  const SecretKey k = SecretKey::random();
  auto p = node_dc_pair(k, ntm::test::node_id(1));
  const std::uint64_t skew = p.dc.config().max_skew_ms;
  Received r;
  CHECK(p.dc.open(seal(p.node, Keepalive{}, kNow - skew - 1), kNow, r) == Error::stale);
  CHECK(p.dc.open(seal(p.node, Keepalive{}, kNow + skew + 1), kNow, r) == Error::stale);
  CHECK(p.dc.open(seal(p.node, Keepalive{}, kNow - skew), kNow, r) == Error::ok);
}

TEST_CASE("reflection, wrong role, wrong epoch, wrong id") {
  const SecretKey k = SecretKey::random();
  const NodeId id = ntm::test::node_id(1);
  auto p = node_dc_pair(k, id);
  Received r;
  // The node's own Keepalive sent back to it.
  CHECK(p.node.open(seal(p.node, Keepalive{}), kNow, r) == Error::bad_domain);
  // A channel of the same node at another key epoch.
  ChannelConfig e1 = cfg(Role::node, Role::dc, id, 5);
  e1.key_epoch = 1;
  ControlChannel node_e1(k, e1);
  CHECK(p.dc.open(seal(node_e1, Keepalive{}), kNow, r) == Error::unknown_key);
  // Another node's ID under the same key bytes.
  ControlChannel n2(k, cfg(Role::node, Role::dc, ntm::test::node_id(2), 5));
  CHECK(p.dc.open(seal(n2, Keepalive{}), kNow, r) == Error::unknown_key);
  // Oversized datagrams are refused before any work.
  std::vector<std::uint8_t> big(NTM_MAX_CONTROL + 1, 0);
  CHECK(p.dc.open(big, kNow, r) == Error::too_large);
}

TEST_CASE("several DC processes (instances) under one node key") {
  const SecretKey k = SecretKey::random();
  const NodeId id = ntm::test::node_id(1);
  ControlChannel dc_a(k, cfg(Role::dc, Role::node, id, 0xaaaa));
  ChannelConfig cb = cfg(Role::dc, Role::node, id, 0xbbbb);
  cb.first_counter += 5'000'000'000ull;  // started 5 s later
  ControlChannel dc_b(k, cb);
  ControlChannel node(k, cfg(Role::node, Role::dc, id, 1));
  Received r;
  const auto b1 = seal(dc_b, KeepaliveAck{});
  const auto a1 = seal(dc_a, KeepaliveAck{});
  CHECK(node.open(b1, kNow, r) == Error::ok);
  CHECK(node.open(a1, kNow, r) == Error::ok);  // far behind b's counter, but another instance
  CHECK(node.open(a1, kNow, r) == Error::replayed);
}

TEST_CASE("counters advance and stop before they could wrap") {
  const SecretKey k = SecretKey::random();
  ChannelConfig c = cfg(Role::node, Role::dc, ntm::test::node_id(1), 1);
  c.first_counter = NTM_COUNTER_REJECT_AFTER - 1;
  ControlChannel ch(k, c);
  std::array<std::uint8_t, NTM_MAX_CONTROL> out{};
  Error err = Error::ok;
  CHECK(ch.seal(Keepalive{}, 1, kNow, out, err) > 0);
  CHECK(ch.seal(Keepalive{}, 1, kNow, out, err) == 0);
  CHECK(err == Error::counter_exhausted);
  CHECK(new_instance() != 0);
}
