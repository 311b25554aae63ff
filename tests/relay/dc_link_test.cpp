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
