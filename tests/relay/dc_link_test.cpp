// SPDX-License-Identifier: MIT
// The RS's link to its DC, in-process: a relay key replaced while running
// (`ntm-dc relay rekey`, then SIGHUP; docs/relay.md).
#include <doctest/doctest.h>

#include "relay_fixture.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

wire::PathId random_path() {
  wire::PathId p;
  wire::random_bytes(p.bytes);
  return p;
}

// The DC's side of the relay–DC channel under key and epoch.
wire::ControlChannel dc_side(const relay::Config& cfg, const wire::SecretKey& key,
                             std::uint8_t epoch) {
  wire::ChannelConfig c;
  c.domain = wire::KeyDomain::node_dc;
  c.key_epoch = epoch;
  c.tx_role = wire::Role::dc;
  c.rx_role = wire::Role::node;
  c.tx_id = c.rx_id = cfg.id.bytes;
  c.instance = wire::new_instance();
  c.first_counter = wire::initial_counter(common::wall_ns());
  return wire::ControlChannel(key, c);
}

}  // namespace

TEST_CASE("relay key replaced: registers at once under it, Relay Directions open only with it, "
          "carried paths stay") {
  RelayUnderTest rs;
  const wire::PathId carried = random_path();
  REQUIRE(rs.direct(carried, 0, wire::RelayMode::forward, wire::SecretKey::random()) ==
          wire::Status::ok);
  CHECK_FALSE(rs.dc.reload_key(rs.cfg.key, rs.cfg.key_epoch, rs.now()));  // unchanged

  const wire::SecretKey fresh = wire::SecretKey::random();
  REQUIRE(rs.dc.reload_key(fresh, 1, rs.now()));
  CHECK_FALSE(rs.dc.registered());
  rs.sink.out.clear();
  rs.dc.on_timer(rs.sink, rs.now());
  REQUIRE(rs.sink.out.size() == 1);
  CHECK(rs.sink.out[0].to == rs.cfg.dc);
  // Sealed under the new key and epoch, not the old.
  wire::Received r;
  auto old_dc = dc_side(rs.cfg, rs.cfg.key, 0);
  CHECK(old_dc.open(rs.sink.out[0].data, common::wall_ms(), r) != wire::Error::ok);
  auto new_dc = dc_side(rs.cfg, fresh, 1);
  REQUIRE(new_dc.open(rs.sink.out[0].data, common::wall_ms(), r) == wire::Error::ok);
  CHECK(std::holds_alternative<wire::RegistrationRequest>(r.body));

  // A Relay Direction sealed with the old key no longer opens; with the new
  // one it does.
  const wire::PathId next = random_path();
  CHECK(rs.direct(next, 0, wire::RelayMode::forward, wire::SecretKey::random()) ==
        wire::Status::refused);
  rs.wrap_key = fresh;
  rs.wrap_epoch = 1;
  CHECK(rs.direct(next, 0, wire::RelayMode::forward, wire::SecretKey::random()) ==
        wire::Status::ok);
  CHECK(rs.paths.find(carried) != nullptr);
  CHECK(rs.paths.size() == 2);
}

namespace {

// The one datagram the link sent last, opened by a member under the
// relay's key (fails the test if it does not open).
wire::Received opened(const relay::Config& cfg, const Sent& s) {
  auto member = dc_side(cfg, cfg.key, cfg.key_epoch);
  wire::Received r;
  REQUIRE(member.open(s.data, common::wall_ms(), r) == wire::Error::ok);
  return r;
}

// A member's answer to what the link sent, sealed as that member would.
std::vector<std::uint8_t> answer(const relay::Config& cfg, const wire::Body& body,
                                 std::uint32_t txid) {
  auto member = dc_side(cfg, cfg.key, cfg.key_epoch);
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  const std::size_t n = member.seal(body, txid, common::wall_ms(), out, err);
  REQUIRE(n);
  out.resize(n);
  return out;
}

wire::RegistrationResponse registered_reply(const relay::Config& cfg) {
  wire::RegistrationResponse r;
  r.observed = cfg.advertise;
  r.keepalive_s = 1;
  r.lifetime_s = 10;
  return r;
}

}  // namespace

TEST_CASE("relay in a DC cluster: its home silent for the failover bound, it registers with the "
          "next member and stays there") {
  relay::Config cfg = test_config();
  const wire::Endpoint a = cfg.dc, b = endpoint("127.0.0.2", 4510);
  cfg.dc_members = {a, b};
  RelayUnderTest rs(cfg);
  relay::Now t = rs.now();  // a clock that moves only when the test moves it
  CHECK(rs.dc.home() == a);
  rs.dc.on_timer(rs.sink, t);
  REQUIRE(rs.sink.out.size() == 1);
  CHECK(rs.sink.out[0].to == a);
  auto req = opened(rs.cfg, rs.sink.out[0]);
  REQUIRE(std::holds_alternative<wire::RegistrationRequest>(req.body));
  rs.dc.on_datagram(answer(rs.cfg, registered_reply(rs.cfg), req.header.txid), a, rs.sink,
                    t);
  REQUIRE(rs.dc.registered());

  // A keepalive a second later; A answers it: no failover however long.
  rs.sink.out.clear();
  t.mono_ms += 1000;
  rs.dc.on_timer(rs.sink, t);
  REQUIRE(rs.sink.out.size() == 1);
  CHECK(rs.sink.out[0].to == a);
  auto ka = opened(rs.cfg, rs.sink.out[0]);
  REQUIRE(std::holds_alternative<wire::Keepalive>(ka.body));
  rs.dc.on_datagram(answer(rs.cfg, wire::KeepaliveAck{}, ka.header.txid), a, rs.sink, t);
  t.mono_ms += 900;
  rs.dc.on_timer(rs.sink, t);
  t.mono_ms += relay::kDcFailoverMs;
  CHECK(rs.dc.next_due_ms() <= t.mono_ms);  // a keepalive is due
  rs.dc.on_timer(rs.sink, t);
  CHECK(rs.dc.failovers() == 0);
  CHECK(rs.dc.home() == a);

  // A dies: its keepalives go unanswered.  Another member's Relay Direction
  // says nothing about A.
  rs.sink.out.clear();
  rs.dc.on_timer(rs.sink, t);
  t.mono_ms += 1000;
  rs.dc.on_timer(rs.sink, t);
  REQUIRE(rs.sink.out.size() >= 1);
  for (const auto& s : rs.sink.out) CHECK(s.to == a);
  t.mono_ms += relay::kDcFailoverMs - 1000 - 1;
  rs.dc.on_timer(rs.sink, t);
  CHECK(rs.dc.failovers() == 0);
  CHECK(rs.dc.next_due_ms() == t.mono_ms + 1);
  rs.sink.out.clear();
  t.mono_ms += 1;
  rs.dc.on_timer(rs.sink, t);
  CHECK(rs.dc.failovers() == 1);
  CHECK(rs.dc.home() == b);
  CHECK_FALSE(rs.dc.registered());
  REQUIRE(rs.sink.out.size() == 1);
  CHECK(rs.sink.out[0].to == b);
  auto req_b = opened(rs.cfg, rs.sink.out[0]);
  REQUIRE(std::holds_alternative<wire::RegistrationRequest>(req_b.body));
  // A's late answer does not count as registered: only B's does.
  rs.dc.on_datagram(answer(rs.cfg, registered_reply(rs.cfg), req_b.header.txid), a, rs.sink,
                    t);
  CHECK_FALSE(rs.dc.registered());
  rs.dc.on_datagram(answer(rs.cfg, registered_reply(rs.cfg), req_b.header.txid), b, rs.sink,
                    t);
  CHECK(rs.dc.registered());
  rs.sink.out.clear();
  t.mono_ms += 1000;
  rs.dc.on_timer(rs.sink, t);
  REQUIRE(rs.sink.out.size() == 1);
  CHECK(rs.sink.out[0].to == b);
}

TEST_CASE("relay with one DC: an unanswered DC is retried, never left") {
  RelayUnderTest rs;
  relay::Now t = rs.now();
  for (int i = 0; i < 6; ++i) {
    rs.dc.on_timer(rs.sink, t);
    t.mono_ms += relay::kDcFailoverMs;
  }
  REQUIRE_FALSE(rs.sink.out.empty());
  for (const auto& s : rs.sink.out) CHECK(s.to == rs.cfg.dc);
  CHECK(rs.dc.failovers() == 0);
  CHECK(rs.dc.home() == rs.cfg.dc);
}
