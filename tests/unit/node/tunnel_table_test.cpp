// SPDX-License-Identifier: MIT
// ntmd's packet logic without sockets: two tunnel tables standing for the
// two ends of a path.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include "datapath/tunnel_table.hpp"
#include "ntm/wire.h"

namespace ntm::node {

namespace {

constexpr std::uint32_t kMnVip = 0x64400001, kCnVip = 0x64400002;

wire::Endpoint ep(std::uint32_t a, std::uint16_t port) { return {wire::IpAddr::v4(a), port}; }

std::vector<std::uint8_t> packet(std::uint32_t src, std::uint32_t dst, std::size_t payload = 12) {
  std::vector<std::uint8_t> p(20 + payload, 0xab);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  return p;
}

struct Pair {
  Pair() {
    wire::random_bytes(path.bytes);
    key = wire::SecretKey::random();
    TunnelConfig m{path, 3, wire::Role::initiator, key, kMnVip, kCnVip, ep(0x0a000002, 4520)};
    TunnelConfig c{path, 3, wire::Role::responder, key, kCnVip, kMnVip, ep(0x0a000001, 4520)};
    mn.install(m);
    mn.set_address(kMnVip);
    cn.install(c);
    cn.set_address(kCnVip);
  }
  // Seals pkt at mn; returns the datagram (empty if refused).
  std::vector<std::uint8_t> seal(TunnelTable& from, const std::vector<std::uint8_t>& pkt,
                                 wire::Endpoint* to = nullptr) {
    std::array<std::uint8_t, 2048> frame{};
    std::memcpy(frame.data() + NTM_HDR_LEN, pkt.data(), pkt.size());
    wire::Endpoint dst;
    TunnelTable::Reader r(from);
    const auto n = r.seal_outgoing(frame, pkt.size(), dst);
    if (to) *to = dst;
    return {frame.begin(), frame.begin() + static_cast<long>(n)};
  }
  Opened open(TunnelTable& at, std::vector<std::uint8_t>& d, const wire::Endpoint& from,
              std::vector<std::uint8_t>* inner = nullptr, bool* roamed = nullptr) {
    std::span<std::uint8_t> payload;
    bool r = false;
    wire::PathId p;
    TunnelTable::Reader reader(at);
    const auto o = reader.open_incoming(d, from, payload, r, p);
    if (inner) inner->assign(payload.begin(), payload.end());
    if (roamed) *roamed = r;
    return o;
  }
  wire::PathId path;
  wire::SecretKey key;
  TunnelTable mn, cn;
};

}  // namespace

TEST_CASE("tunnel table: a packet to the peer's VIP is sealed to the peer and opens there") {
  Pair t;
  const auto pkt = packet(kMnVip, kCnVip, 100);
  wire::Endpoint to;
  auto d = t.seal(t.mn, pkt, &to);
  REQUIRE(d.size() == pkt.size() + NTM_CAPSULE_OVERHEAD);
  CHECK(to == ep(0x0a000002, 4520));
  std::vector<std::uint8_t> inner;
  bool roamed = true;
  CHECK(t.open(t.cn, d, ep(0x0a000001, 4520), &inner, &roamed) == Opened::packet);
  CHECK(inner == pkt);
  CHECK_FALSE(roamed);
  const auto c = t.cn.find(t.path)->counters();
  CHECK(c.rx_packets == 1);
  CHECK(c.rx_bytes == pkt.size());
  CHECK(t.mn.find(t.path)->counters().tx_packets == 1);
}

TEST_CASE("tunnel table: what the interface must not send is dropped and counted") {
  Pair t;
  // No tunnel for that destination.
  CHECK(t.seal(t.mn, packet(kMnVip, 0x64400063)).empty());
  CHECK(t.mn.totals().no_tunnel == 1);
  // Not our VIP as the source (a spoofing application).
  CHECK(t.seal(t.mn, packet(0x0a0a0a0a, kCnVip)).empty());
  // Not IPv4, or a length that lies.
  auto v6 = packet(kMnVip, kCnVip);
  v6[0] = 0x60;
  CHECK(t.seal(t.mn, v6).empty());
  auto liar = packet(kMnVip, kCnVip);
  liar[3] = 0xff;
  CHECK(t.seal(t.mn, liar).empty());
  CHECK(t.mn.totals().bad_packet == 3);
  // A tunnel with no peer endpoint yet drops rather than guessing.
  TunnelTable lone;
  lone.install({t.path, 3, wire::Role::initiator, t.key, kMnVip, kCnVip, {}});
  CHECK(t.seal(lone, packet(kMnVip, kCnVip)).empty());
  CHECK(lone.find(t.path)->counters().drops == 1);
}

TEST_CASE("tunnel table: tampered, replayed, reflected, foreign and spoofed capsules are dropped") {
  Pair t;
  const auto from = ep(0x0a000001, 4520);
  auto good = t.seal(t.mn, packet(kMnVip, kCnVip));
  auto flipped = good;
  flipped[NTM_HDR_LEN + 3] ^= 0x10;
  CHECK(t.open(t.cn, flipped, from) == Opened::dropped);
  auto copy = good;
  CHECK(t.open(t.cn, copy, from) == Opened::packet);
  auto replay = good;
  CHECK(t.open(t.cn, replay, from) == Opened::dropped);
  // Sent back to its sender: MN's opener expects the responder's key.
  auto reflected = t.seal(t.mn, packet(kMnVip, kCnVip));
  CHECK(t.open(t.mn, reflected, from) == Opened::dropped);
  CHECK(t.cn.find(t.path)->counters().drops == 2);
  // A path CN does not hold.
  auto other = t.seal(t.mn, packet(kMnVip, kCnVip));
  other[20] ^= 0x01;
  CHECK(t.open(t.cn, other, from) == Opened::dropped);
  CHECK(t.cn.totals().unknown_path == 1);
  // Truncated below a header.
  std::vector<std::uint8_t> stub(good.begin(), good.begin() + 20);
  CHECK(t.open(t.cn, stub, from) == Opened::dropped);
  // Not a capsule: control, for the control plane.
  std::vector<std::uint8_t> ctl = good;
  ctl[1] = NTM_T_KEEPALIVE;
  CHECK(t.open(t.cn, ctl, from) != Opened::packet);
}

TEST_CASE("tunnel table: the peer may send only from its own VIP to ours") {
  // MN's table is told a wrong peer VIP, so what it seals carries a source
  // CN does not accept for this path.
  Pair t;
  TunnelTable rogue;
  rogue.install({t.path, 3, wire::Role::initiator, t.key, 0x64400077, kCnVip, ep(1, 1)});
  rogue.set_address(0x64400077);
  auto d = t.seal(rogue, packet(0x64400077, kCnVip));
  REQUIRE_FALSE(d.empty());
  CHECK(t.open(t.cn, d, ep(0x0a000001, 4520)) == Opened::dropped);
  CHECK(t.cn.find(t.path)->counters().drops == 1);
}

TEST_CASE("tunnel table: an authentic capsule from a new source moves the peer (roam)") {
  Pair t;
  auto d = t.seal(t.mn, packet(kMnVip, kCnVip));
  bool roamed = false;
  const auto moved = ep(0xc6336402, 31000);
  CHECK(t.open(t.cn, d, moved, nullptr, &roamed) == Opened::packet);
  CHECK(roamed);
  CHECK(t.cn.find(t.path)->peer() == moved);
  // A keepalive (no payload) is authentic too.
  std::array<std::uint8_t, 64> frame{};
  wire::Endpoint to;
  const auto n = t.mn.find(t.path)->seal(frame, 0, to);
  std::vector<std::uint8_t> ka(frame.begin(), frame.begin() + static_cast<long>(n));
  CHECK(t.open(t.cn, ka, moved) == Opened::keepalive);
}

TEST_CASE("tunnel table: a newer path to the same VIP replaces the older one") {
  Pair t;
  wire::PathId second;
  wire::random_bytes(second.bytes);
  t.mn.install({second, 0, wire::Role::initiator, wire::SecretKey::random(), kMnVip, kCnVip,
                ep(9, 9)});
  CHECK(t.mn.find(t.path) == nullptr);
  wire::Endpoint to;
  CHECK_FALSE(t.seal(t.mn, packet(kMnVip, kCnVip), &to).empty());
  CHECK(to == ep(9, 9));
  t.mn.remove(second);
  CHECK(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
}

TEST_CASE("tunnel table: after a re-direction the previous key epoch still opens, and only it") {
  Pair t;
  // A capsule the MN sealed under epoch 3, still in flight.
  auto late = t.seal(t.mn, packet(kMnVip, kCnVip));
  // The DC re-directs the path: epoch 4, a new key, the CN installs first.
  const auto key4 = wire::SecretKey::random();
  t.cn.install({t.path, 4, wire::Role::responder, key4, kCnVip, kMnVip, ep(0x0a000001, 4520)});
  CHECK(t.cn.find(t.path)->key_epoch() == 4);
  std::vector<std::uint8_t> inner;
  CHECK(t.open(t.cn, late, ep(0x0a000001, 4520), &inner) == Opened::packet);
  CHECK(inner == packet(kMnVip, kCnVip));
  // Counted on the path, whichever epoch opened it.
  CHECK(t.cn.find(t.path)->counters().rx_packets == 1);
  // An old-epoch capsule from a new source does not move the new tunnel.
  auto late2 = t.seal(t.mn, packet(kMnVip, kCnVip));
  bool roamed = true;
  CHECK(t.open(t.cn, late2, ep(0x0b000001, 999), nullptr, &roamed) == Opened::packet);
  CHECK_FALSE(roamed);
  CHECK(t.cn.find(t.path)->peer() == ep(0x0a000001, 4520));
  // The MN installs epoch 4 too; its capsules open under the new key.
  t.mn.install({t.path, 4, wire::Role::initiator, key4, kMnVip, kCnVip, ep(0x0a000002, 4520)});
  auto fresh = t.seal(t.mn, packet(kMnVip, kCnVip));
  CHECK(t.open(t.cn, fresh, ep(0x0a000001, 4520)) == Opened::packet);
  // A third epoch retires the first: epoch 3 no longer opens.
  t.cn.install({t.path, 5, wire::Role::responder, wire::SecretKey::random(), kCnVip, kMnVip,
                ep(0x0a000001, 4520)});
  auto old3 = late2;  // sealed under 3; 4 is now the previous epoch
  const auto drops = t.cn.find(t.path)->counters().drops;
  CHECK(t.open(t.cn, old3, ep(0x0a000001, 4520)) == Opened::dropped);
  CHECK(t.cn.find(t.path)->counters().drops == drops + 1);
  // Removing the path forgets both.
  t.cn.remove(t.path);
  CHECK(t.open(t.cn, fresh, ep(0x0a000001, 4520)) == Opened::dropped);
}

TEST_CASE("tunnel table: a re-installed tunnel of the same epoch replaces it without keeping a copy") {
  Pair t;
  auto d = t.seal(t.mn, packet(kMnVip, kCnVip));
  t.cn.install({t.path, 3, wire::Role::responder, wire::SecretKey::random(), kCnVip, kMnVip,
                ep(0x0a000001, 4520)});
  CHECK(t.open(t.cn, d, ep(0x0a000001, 4520)) == Opened::dropped);
}

TEST_CASE("tunnel table: a held path keeps what the interface sends, and sends it in order on release") {
  Pair t;
  CHECK_FALSE(t.mn.holding(t.path));
  t.mn.hold(t.path);
  CHECK(t.mn.holding(t.path));
  std::vector<std::vector<std::uint8_t>> kept;
  for (std::size_t i = 0; i < 3; ++i) {
    kept.push_back(packet(kMnVip, kCnVip, 20 + i));
    CHECK(t.seal(t.mn, kept.back()).empty());  // kept, not sent
  }
  // Not a drop: the tunnel's counters and the table's are untouched.
  CHECK(t.mn.find(t.path)->counters().drops == 0);
  CHECK(t.mn.find(t.path)->counters().tx_packets == 0);
  // What is not for the held path is not held (no tunnel: counted as ever).
  CHECK(t.seal(t.mn, packet(kMnVip, kCnVip + 9)).empty());
  CHECK(t.mn.totals().no_tunnel == 1);

  // Released: each kept packet, oldest first, sealed through the tunnel as
  // it is now (a re-direction may have moved the peer).
  t.mn.set_peer(t.path, ep(0x0a000009, 4999));
  std::vector<std::vector<std::uint8_t>> inner;
  const auto n = t.mn.release(t.path, [&](std::span<const std::uint8_t> datagram,
                                           const wire::Endpoint& to) {
    REQUIRE(datagram.size() == kept[inner.size()].size() + NTM_CAPSULE_OVERHEAD);
    CHECK(to == ep(0x0a000009, 4999));
    std::vector<std::uint8_t> d(datagram.begin(), datagram.end());
    std::vector<std::uint8_t> got;
    CHECK(t.open(t.cn, d, ep(0x0a000009, 4520), &got) == Opened::packet);
    inner.push_back(got);
  });
  CHECK(n == 3);
  CHECK(inner == kept);
  CHECK_FALSE(t.mn.holding(t.path));
  // After the release the path sends at once again.
  CHECK_FALSE(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
  CHECK(t.mn.release(t.path, [](auto, auto) { FAIL("nothing is held"); }) == 0);
}

TEST_CASE("tunnel table: holding is bounded, and a removed path holds nothing") {
  Pair t;
  t.mn.hold(t.path);
  for (std::size_t i = 0; i < TunnelTable::kMaxHeld + 10; ++i)
    CHECK(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
  CHECK(t.mn.find(t.path)->counters().drops == 10);  // over the bound: dropped and counted
  std::size_t n = 0;
  CHECK(t.mn.release(t.path, [&](auto, auto) { ++n; }) == TunnelTable::kMaxHeld);
  CHECK(n == TunnelTable::kMaxHeld);
  t.mn.hold(t.path);
  CHECK(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
  t.mn.remove(t.path);
  CHECK_FALSE(t.mn.holding(t.path));
  CHECK(t.mn.release(t.path, [](auto, auto) { FAIL("the path is gone"); }) == 0);
}

// A move's blackout on a path whose peer follows our capsules: the data
// path ends the hold itself (docs/mobility.md §2, "Blackout").
TEST_CASE("tunnel table: a blackout hold ends at a packet once the route leaves from a new address") {
  Pair t;
  const auto old_addr = wire::IpAddr::v4(0x0a000001), new_addr = wire::IpAddr::v4(0x0b000001);
  t.mn.hold_until_route(t.path, RouteReturn{{old_addr}, {}, {}});
  CHECK(t.mn.holding(t.path));
  CHECK_FALSE(t.mn.route_check_due());  // nothing kept yet
  std::vector<std::vector<std::uint8_t>> kept;
  std::vector<wire::Endpoint> asked;
  std::optional<wire::IpAddr> source;  // the route lookup's answer
  auto lookup = [&](const wire::Endpoint& to) {
    asked.push_back(to);
    return source;
  };
  std::vector<std::vector<std::uint8_t>> inner;
  auto send = [&](std::span<const std::uint8_t> datagram, const wire::Endpoint& to) {
    CHECK(to == ep(0x0a000002, 4520));
    std::vector<std::uint8_t> d(datagram.begin(), datagram.end()), got;
    CHECK(t.open(t.cn, d, ep(0x0b000001, 4520), &got) == Opened::packet);
    inner.push_back(got);
  };
  auto keep_one = [&](std::size_t i) {
    // The checks are at most every kRouteCheckEveryUs.
    std::this_thread::sleep_for(std::chrono::microseconds(TunnelTable::kRouteCheckEveryUs + 100));
    kept.push_back(packet(kMnVip, kCnVip, 30 + i));
    CHECK(t.seal(t.mn, kept.back()).empty());
    CHECK(t.mn.route_check_due());
  };
  // No route yet: kept.
  keep_one(0);
  CHECK(t.mn.end_route_waits(lookup, send) == 0);
  CHECK(asked == std::vector<wire::Endpoint>{ep(0x0a000002, 4520)});  // the tunnel's peer
  CHECK(t.mn.holding(t.path));
  CHECK_FALSE(t.mn.route_check_due());  // until the next kept packet
  // A route from the address the host had before: the link came back, into
  // which network the control plane finds out; still kept.
  source = old_addr;
  keep_one(1);
  CHECK(t.mn.end_route_waits(lookup, send) == 0);
  CHECK(t.mn.holding(t.path));
  // A checked packet's successor within kRouteCheckEveryUs waits for the
  // next check (none is due).
  kept.push_back(packet(kMnVip, kCnVip, 40));
  CHECK(t.seal(t.mn, kept.back()).empty());
  CHECK_FALSE(t.mn.route_check_due());
  // The new network: everything kept goes, oldest first, and the path
  // sends at once again.
  source = new_addr;
  keep_one(3);
  CHECK(t.mn.end_route_waits(lookup, send) == 4);
  CHECK(inner == kept);
  CHECK_FALSE(t.mn.holding(t.path));
  CHECK(t.mn.find(t.path)->counters().route_ends == 1);
  CHECK_FALSE(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
  CHECK(t.mn.find(t.path)->counters().drops == 0);
}

TEST_CASE("tunnel table: through a relay, the update the agent sealed goes first, then what was kept") {
  Pair t;
  const auto relay = ep(0x0c000001, 4600);
  const std::vector<std::uint8_t> update{0x4e, 0x54, 0x4d, 0x01};  // opaque to the table
  t.mn.hold_until_route(t.path, RouteReturn{{wire::IpAddr::v4(0x0a000001)}, relay, update});
  std::this_thread::sleep_for(std::chrono::microseconds(TunnelTable::kRouteCheckEveryUs + 100));
  const auto kept = packet(kMnVip, kCnVip, 33);
  CHECK(t.seal(t.mn, kept).empty());
  std::vector<wire::Endpoint> asked;
  std::vector<std::pair<std::vector<std::uint8_t>, wire::Endpoint>> out;
  const auto n = t.mn.end_route_waits(
      [&](const wire::Endpoint& to) {
        asked.push_back(to);
        return std::optional<wire::IpAddr>(wire::IpAddr::v4(0x0b000001));
      },
      [&](std::span<const std::uint8_t> d, const wire::Endpoint& to) {
        out.emplace_back(std::vector<std::uint8_t>(d.begin(), d.end()), to);
      });
  CHECK(n == 1);  // packets, not the update
  CHECK(asked == std::vector<wire::Endpoint>{relay});  // the relay's route, not the peer's
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == update);
  CHECK(out[0].second == relay);
  CHECK(out[1].second == relay);
  std::vector<std::uint8_t> inner;
  CHECK(t.open(t.cn, out[1].first, relay, &inner) == Opened::packet);
  CHECK(inner == kept);
  CHECK(t.mn.find(t.path)->peer() == relay);  // and what follows goes there too
  CHECK_FALSE(t.mn.holding(t.path));
}

TEST_CASE("tunnel table: a hold for the peer, a re-direction or a release ends the wait for the route") {
  const auto new_addr = wire::IpAddr::v4(0x0b000001);
  auto lookup = [&](const wire::Endpoint&) { return std::optional<wire::IpAddr>(new_addr); };
  auto no_send = [](auto, auto) { FAIL("the control plane ends this hold"); };
  auto keep = [](Pair& t) {
    std::this_thread::sleep_for(std::chrono::microseconds(TunnelTable::kRouteCheckEveryUs + 100));
    CHECK(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
  };
  // Kept, no check asked for, and a check releases nothing.
  auto left_to_control_plane = [&](Pair& t) {
    CHECK_FALSE(t.mn.route_check_due());
    CHECK(t.mn.end_route_waits(lookup, no_send) == 0);
    CHECK(t.mn.holding(t.path));
  };
  SUBCASE("held for the peer as well") {
    Pair t;
    t.mn.hold_until_route(t.path, RouteReturn{});
    t.mn.hold(t.path);
    keep(t);
    left_to_control_plane(t);
  }
  SUBCASE("re-directed: a new tunnel for the path") {
    Pair t;
    t.mn.hold_until_route(t.path, RouteReturn{});
    t.mn.install({t.path, 4, wire::Role::initiator, wire::SecretKey::random(), kMnVip, kCnVip,
                  ep(0x0a000002, 4520)});
    keep(t);
    left_to_control_plane(t);
  }
  SUBCASE("released by the control plane, then held for the peer") {
    Pair t;
    t.mn.hold_until_route(t.path, RouteReturn{});
    CHECK(t.mn.release(t.path, [](auto, auto) {}) == 0);
    t.mn.hold(t.path);
    keep(t);
    CHECK(t.mn.end_route_waits(lookup, no_send) == 0);
    CHECK(t.mn.holding(t.path));
  }
}

TEST_CASE("tunnel table: what all held paths keep together is bounded too") {
  // A move's blackout holds every path of the node at once.
  TunnelTable mn;
  mn.set_address(kMnVip);
  const auto key = wire::SecretKey::random();
  constexpr std::size_t kPaths = TunnelTable::kMaxHeldTotal / TunnelTable::kMaxHeld + 1;
  std::vector<wire::PathId> paths(kPaths);
  for (std::size_t i = 0; i < kPaths; ++i) {
    wire::random_bytes(paths[i].bytes);
    mn.install({paths[i], 1, wire::Role::initiator, key, kMnVip, kCnVip + 1 + static_cast<std::uint32_t>(i),
                ep(0x0a000002, 4520)});
    mn.hold(paths[i]);
  }
  Pair t;  // its seal() helper
  auto seal_to = [&](std::size_t i) {
    return t.seal(mn, packet(kMnVip, kCnVip + 1 + static_cast<std::uint32_t>(i)));
  };
  for (std::size_t i = 0; i + 1 < kPaths; ++i)
    for (std::size_t k = 0; k < TunnelTable::kMaxHeld; ++k) CHECK(seal_to(i).empty());
  // The last path finds the node's bound reached: dropped and counted.
  CHECK(seal_to(kPaths - 1).empty());
  CHECK(mn.find(paths[kPaths - 1])->counters().drops == 1);
  // Releasing one path (or removing it) makes room again.
  std::size_t sent = 0;
  CHECK(mn.release(paths[0], [&](auto, auto) { ++sent; }) == TunnelTable::kMaxHeld);
  CHECK(sent == TunnelTable::kMaxHeld);
  CHECK(seal_to(kPaths - 1).empty());
  CHECK(mn.find(paths[kPaths - 1])->counters().drops == 1);  // kept this time
  mn.remove(paths[1]);
  for (std::size_t k = 0; k < TunnelTable::kMaxHeld - 1; ++k) CHECK(seal_to(kPaths - 1).empty());
  CHECK(mn.find(paths[kPaths - 1])->counters().drops == 1);
  CHECK(mn.release(paths[kPaths - 1], [](auto, auto) {}) == TunnelTable::kMaxHeld);
}

TEST_CASE("tunnel table: a keepalive is not data, the data counters move only with packets") {
  Pair t;
  std::array<std::uint8_t, NTM_HDR_LEN + NTM_TAG_LEN> frame{};
  wire::Endpoint to;
  REQUIRE(t.mn.find(t.path)->seal(frame, 0, to) > 0);  // what send_keepalive seals
  std::vector<std::uint8_t> ka(frame.begin(), frame.end());
  CHECK(t.open(t.cn, ka, ep(0x0a000001, 4520)) == Opened::keepalive);
  CHECK(t.mn.find(t.path)->counters().tx_packets == 0);
  CHECK(t.mn.find(t.path)->counters().tx_bytes == 0);
  CHECK(t.cn.find(t.path)->counters().rx_packets == 0);
  CHECK(t.cn.find(t.path)->counters().last_rx_ms > 0);  // but the path is alive
  auto d = t.seal(t.mn, packet(kMnVip, kCnVip));
  REQUIRE_FALSE(d.empty());
  CHECK(t.open(t.cn, d, ep(0x0a000001, 4520)) == Opened::packet);
  CHECK(t.mn.find(t.path)->counters().tx_packets == 1);
  CHECK(t.cn.find(t.path)->counters().rx_packets == 1);
}

TEST_CASE("tunnel table: a packet to an address with no tunnel is reported, once per 100 ms") {
  Pair t;
  std::vector<std::uint32_t> missed;
  std::vector<std::uint8_t> first;
  t.mn.set_miss_hook([&](std::uint32_t dst, std::span<const std::uint8_t> pkt) {
    if (missed.empty()) first.assign(pkt.begin(), pkt.end());
    missed.push_back(dst);
  });
  constexpr std::uint32_t kGone = kCnVip + 5, kOther = kCnVip + 6;
  for (int i = 0; i < 50; ++i) CHECK(t.seal(t.mn, packet(kMnVip, kGone, 12 + i)).empty());
  CHECK(missed == std::vector<std::uint32_t>{kGone});  // a flood is one report
  CHECK(first == packet(kMnVip, kGone, 12));            // with the packet that missed
  CHECK(t.seal(t.mn, packet(kMnVip, kOther)).empty());
  CHECK(missed == std::vector<std::uint32_t>{kGone, kOther});
  CHECK(t.mn.totals().no_tunnel == 51);
  // A packet that has a tunnel is no miss.
  CHECK_FALSE(t.seal(t.mn, packet(kMnVip, kCnVip)).empty());
  CHECK(missed.size() == 2);
  // After the interval, the same address is reported again.
  std::this_thread::sleep_for(std::chrono::milliseconds(TunnelTable::kMissEveryMs + 20));
  CHECK(t.seal(t.mn, packet(kMnVip, kOther)).empty());
  CHECK(missed.size() == 3);
  // A sweep of the virtual range: at most kMissesPerSecond reports a second.
  Pair sweep;
  std::size_t reports = 0;
  sweep.mn.set_miss_hook([&](std::uint32_t, std::span<const std::uint8_t>) { ++reports; });
  for (std::uint32_t i = 0; i < 1000; ++i)
    CHECK(sweep.seal(sweep.mn, packet(kMnVip, kCnVip + 10 + i)).empty());
  CHECK(reports >= TunnelTable::kMissesPerSecond);
  CHECK(reports <= 2 * TunnelTable::kMissesPerSecond);  // the loop may straddle a second
  // A hook that throws (no memory for the posted call) loses that report only.
  t.cn.set_miss_hook([](std::uint32_t, std::span<const std::uint8_t>) { throw std::bad_alloc(); });
  CHECK(t.seal(t.cn, packet(kCnVip, kGone)).empty());
  CHECK(t.cn.totals().no_tunnel == 1);
}

}  // namespace ntm::node
