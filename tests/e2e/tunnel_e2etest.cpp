// SPDX-License-Identifier: MIT
// End to end in one process, without root: the DC's real control server on
// a database of the pg fixture, ntmd's real control plane and packet logic
// over the in-memory data path, real UDP on loopback between them.
#include <doctest/doctest.h>

#include "dc_in_process.hpp"
#include "e2e_support.hpp"
#include "ntm/common/udp_socket.hpp"
#include "pg_test_db.hpp"

namespace ntm::test {

namespace {

constexpr const char* kZone = "e2e.test";

}  // namespace

TEST_CASE("e2e: two global nodes: registration, a direct path, data both ways") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  dc.start();

  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0");
  // Enrollment wrote the DC's advertised endpoint into the files.
  CHECK(mn.cfg.dc == dc.endpoint());
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
  CHECK_FALSE(mn.agent.status().behind_nat);
  CHECK(vip_of(mn) != 0);
  CHECK(vip_of(mn) != vip_of(cn));

  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  CHECK(r->vip == vip_of(cn));
  const auto mp = path_to(mn, "cn.e2e.test");
  REQUIRE(mp);
  CHECK(mp->route == wire::RouteType::direct);
  CHECK(mp->state == node::PathState::up);
  CHECK_FALSE(mp->via_relay);
  // The responder knows the path too, with the MN as its peer.
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  exchange(io, mn, cn);

  // A second query for the name is answered from the path at once.
  const auto again = resolve(io, mn, "cn.e2e.test", 50);
  REQUIRE(again);
  CHECK(again->vip == vip_of(cn));
  CHECK(mn.agent.status().paths.size() == 1);

  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: tampered, replayed and foreign capsules are dropped and counted") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0");
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
  REQUIRE(resolve(io, mn, "cn.e2e.test"));
  REQUIRE(path_up(io, cn, "mn.e2e.test"));

  std::vector<std::uint8_t> captured;
  mn.dp.tap = [&](std::span<const std::uint8_t> d, const wire::Endpoint&) {
    captured.assign(d.begin(), d.end());
  };
  exchange(io, mn, cn);
  REQUIRE_FALSE(captured.empty());
  const auto path = path_to(cn, "mn.e2e.test")->id;
  auto drops = [&] { return cn.dp.counters(path)->drops; };
  const auto delivered = cn.dp.delivered().size();
  const auto drops0 = drops();

  common::UdpSocket attacker(endpoint("127.0.0.9:0"));
  // One flipped bit in the ciphertext.
  auto tampered = captured;
  tampered[40] ^= 0x01;
  attacker.send(tampered, cn.dp.local());
  REQUIRE(run_until(io, [&] { return drops() == drops0 + 1; }, 2000));
  // The untouched capsule again: a replay.
  attacker.send(captured, cn.dp.local());
  REQUIRE(run_until(io, [&] { return drops() == drops0 + 2; }, 2000));
  // Cut short.
  attacker.send(std::span(captured.data(), 40), cn.dp.local());
  // For a path CN does not hold.
  auto foreign = captured;
  foreign[20] ^= 0xff;  // inside the header's path ID
  const auto unknown0 = cn.dp.totals().unknown_path;
  attacker.send(foreign, cn.dp.local());
  REQUIRE(run_until(io, [&] { return cn.dp.totals().unknown_path == unknown0 + 1; }, 2000));
  CHECK(cn.dp.delivered().size() == delivered);
  // None of them moved the path to the attacker's address.
  CHECK(cn.dp.counters(path)->peer == mn.dp.local());
  // The path still works.
  exchange(io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: CN behind NAT sends the first Tunnel Request") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  dc.start();
  boost::asio::io_context io(1);
  // CN claims a private address: the DC sees a NAT in front of it.
  TestNode mn(io, mn_text, "127.0.0.2:0"),
      cn(io, cn_text, "127.0.0.3:0", {endpoint("10.9.0.2:4520")});
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
  CHECK(cn.agent.status().behind_nat);
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  const auto mp = path_to(mn, "cn.e2e.test");
  REQUIRE(mp);
  CHECK(mp->route == wire::RouteType::direct);
  CHECK(mp->first == wire::FirstSender::responder);
  exchange(io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: names the DC does not know, and a DC that does not answer") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0");
  mn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn); }));
  // A name inside the zone that no node has.
  const auto r = resolve(io, mn, "nobody.e2e.test");
  REQUIRE(r);
  CHECK(r->kind == node::Resolution::Kind::nxdomain);
  // Its own name: its own VIP, no path.
  const auto self = resolve(io, mn, "mn.e2e.test");
  REQUIRE(self);
  CHECK(self->vip == vip_of(mn));
  mn.agent.stop();
  dc.stop();

  // The DC is gone: the resolver gets SERVFAIL after the bound, not never.
  boost::asio::io_context io2(1);
  TestNode lone(io2, mn_text, "127.0.0.2:0", {}, 600);
  lone.agent.start();
  const auto t0 = std::chrono::steady_clock::now();
  const auto f = resolve(io2, lone, "cn.e2e.test", 5000);
  const auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE(f);
  CHECK(f->kind == node::Resolution::Kind::servfail);
  CHECK(waited < std::chrono::milliseconds(3000));
  CHECK_FALSE(lone.agent.status().registered);
  lone.agent.stop();
}

}  // namespace ntm::test

#include "relay_in_process.hpp"

namespace ntm::test {

TEST_CASE("e2e: two nodes behind different NATs talk through the relay, which cannot read them") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  const auto rs_text = dc.enroll_relay("rs1");
  dc.start();
  InProcessRelay rs(rs_text, "127.0.0.4");
  rs.start();
  boost::asio::io_context io(1);
  // Each claims a private address of its own network: two NATs.
  TestNode mn(io, mn_text, "127.0.0.2:0", {endpoint("10.1.0.2:4520")}),
      cn(io, cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn) && rs.registered(); }));
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  CHECK(r->vip == vip_of(cn));
  const auto mp = path_to(mn, "cn.e2e.test");
  REQUIRE(mp);
  CHECK(mp->route == wire::RouteType::relay);
  CHECK(mp->via_relay);
  CHECK(mp->relay == rs.endpoint());
  CHECK(rs.paths() == 1);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));

  // Everything MN sends goes to the relay, and arrives at CN unchanged.
  std::vector<std::vector<std::uint8_t>> sent;
  mn.dp.tap = [&](std::span<const std::uint8_t> d, const wire::Endpoint& to) {
    CHECK(to == rs.endpoint());
    sent.emplace_back(d.begin(), d.end());
  };
  exchange(io, mn, cn);
  REQUIRE(sent.size() == 1);
  CHECK(cn.dp.counters(mp->id)->peer == rs.endpoint());

  // A third party cannot use the relay's path: its copy of a capsule is
  // not from MN's recorded endpoint.
  const auto foreign0 = rs.drops().foreign_source;
  common::UdpSocket attacker(endpoint("127.0.0.9:0"));
  attacker.send(sent.front(), rs.endpoint());
  REQUIRE(run_until(io, [&] { return rs.drops().foreign_source == foreign0 + 1; }, 2000));
  // A path the DC never directed is not forwarded.
  auto undirected = sent.front();
  undirected[20] ^= 0x5a;
  const auto unknown0 = rs.drops().unknown_path;
  attacker.send(undirected, rs.endpoint());
  REQUIRE(run_until(io, [&] { return rs.drops().unknown_path == unknown0 + 1; }, 2000));
  exchange(io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  rs.stop();
  dc.stop();
}

}  // namespace ntm::test

namespace ntm::test {

namespace {

std::uint16_t free_udp_port() {
  common::UdpSocket s(endpoint("127.0.0.1:0"));
  return s.local().port;
}

wire::Endpoint at(const char* addr, std::uint16_t port) {
  wire::Endpoint e;
  REQUIRE(wire::IpAddr::parse(addr, e.addr));
  e.port = port;
  return e;
}

}  // namespace

TEST_CASE("e2e: two nodes behind one NAT whose private network cannot be told go through the relay") {
  // The DC takes no loopback address as a private network (it cannot carry
  // a tunnel to another host), so nodes that claim 127.0.1.x behind one
  // NAT get rule 4e (same NAT, network not shared): the relay.  The
  // direct_private route itself is covered by the testbed's namespaces.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  const auto rs_text = dc.enroll_relay("rs1");
  dc.start();
  InProcessRelay rs(rs_text, "127.0.0.4");
  rs.start();
  boost::asio::io_context io(1);
  // Sockets on the wildcard address: the DC sees both at 127.0.0.1, one
  // NAT's public address.
  const auto pm = free_udp_port(), pc = free_udp_port();
  const std::string bm = "0.0.0.0:" + std::to_string(pm), bc = "0.0.0.0:" + std::to_string(pc);
  TestNode mn(io, mn_text, bm.c_str(), {at("127.0.1.2", pm)});
  TestNode cn(io, cn_text, bc.c_str(), {at("127.0.1.3", pc)});
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn) && rs.registered(); }));
  CHECK(mn.agent.status().behind_nat);
  CHECK(mn.agent.status().observed.addr == cn.agent.status().observed.addr);
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  const auto mp = path_to(mn, "cn.e2e.test");
  REQUIRE(mp);
  CHECK(mp->route == wire::RouteType::relay);
  CHECK(mp->via_relay);
  exchange(io, mn, cn);
  CHECK(mn.dp.counters(mp->id)->peer == rs.endpoint());
  mn.agent.stop();
  cn.agent.stop();
  rs.stop();
  dc.stop();
}

}  // namespace ntm::test

namespace ntm::test {

// Re-keying (docs/dc.md "Re-keying"): the DC re-directs a path whose key
// epoch reached path_rekey_s, route and relay kept; the ends switch to the
// new keys and the data goes on, both ways, on a direct and a relayed path.
TEST_CASE("e2e: the DC re-keys paths by age, direct and relayed, and data goes on") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  dc.set_path_rekey_s(2);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  const auto gn_text = dc.enroll_node("gn.e2e.test");
  const auto rs_text = dc.enroll_relay("rs1");
  dc.start();
  InProcessRelay rs(rs_text, "127.0.0.4");
  rs.start();
  boost::asio::io_context io(1);
  // mn and cn behind two NATs (relayed); gn global (mn -> gn: direct, mn
  // sends first).
  TestNode mn(io, mn_text, "127.0.0.2:0", {endpoint("10.1.0.2:4520")}),
      cn(io, cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")}),
      gn(io, gn_text, "127.0.0.5:0");
  mn.agent.start();
  cn.agent.start();
  gn.agent.start();
  REQUIRE(run_until(io, [&] {
    return registered(mn) && registered(cn) && registered(gn) && rs.registered();
  }));
  for (const char* name : {"cn.e2e.test", "gn.e2e.test"}) {
    const auto r = resolve(io, mn, name);
    REQUIRE(r);
    REQUIRE(r->kind == node::Resolution::Kind::address);
  }
  const auto relayed0 = path_to(mn, "cn.e2e.test");
  const auto direct0 = path_to(mn, "gn.e2e.test");
  REQUIRE(relayed0);
  REQUIRE(direct0);
  CHECK(relayed0->route == wire::RouteType::relay);
  CHECK(direct0->route == wire::RouteType::direct);
  CHECK(relayed0->key_epoch == 0);
  REQUIRE(run_until(io, [&] {
    auto c = path_to(cn, "mn.e2e.test");
    auto g = path_to(gn, "mn.e2e.test");
    return c && c->state == node::PathState::up && g && g->state == node::PathState::up;
  }));
  exchange(io, mn, cn);
  exchange(io, mn, gn);
  // The relayed path and the direct one's stand-by leg (mn, behind NAT,
  // sends first).
  const auto rs_paths = rs.paths();
  CHECK(rs_paths == 2);
  // Both paths come back under epoch 1 at both ends, same path IDs and
  // routes, up again.
  auto rekeyed = [&](TestNode& n, const std::string& peer, const wire::PathId& id) {
    auto p = path_to(n, peer);
    return p && p->id == id && p->key_epoch == 1 && p->state == node::PathState::up;
  };
  REQUIRE(run_until(io, [&] {
    return rekeyed(mn, "cn.e2e.test", relayed0->id) && rekeyed(cn, "mn.e2e.test", relayed0->id) &&
           rekeyed(mn, "gn.e2e.test", direct0->id) && rekeyed(gn, "mn.e2e.test", direct0->id);
  }, 6000));
  CHECK(path_to(mn, "cn.e2e.test")->route == wire::RouteType::relay);
  CHECK(path_to(mn, "cn.e2e.test")->relay == rs.endpoint());
  CHECK(path_to(mn, "gn.e2e.test")->route == wire::RouteType::direct);
  CHECK(rs.paths() == rs_paths);  // the same paths at the relay, none added
  exchange(io, mn, cn);
  exchange(io, mn, gn);
  mn.agent.stop();
  cn.agent.stop();
  gn.agent.stop();
  rs.stop();
  dc.stop();
}

TEST_CASE("e2e: a path directed anew under an epoch the responder holds gets the new keys at both ends") {
  // The DC's first direction of a path fails after CN took its keys (MN
  // hears nothing from the DC: its Route Direction and the error are
  // lost).  The failed path leaves no row, and the DC restarts before MN's
  // next retransmission of the same request, so it no longer remembers the
  // failure either (it would direct under epoch 1): the path is directed
  // anew, again under epoch 0, with another key.  CN must take that key,
  // not ack it as a copy of the one it holds: otherwise the two ends have
  // different keys and nothing gets through.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  dc.start();
  boost::asio::io_context io(1);
  // Long resolver bounds: both ends keep their lookup and path through it.
  TestNode mn(io, mn_text, "127.0.0.2:0", {}, 15000), cn(io, cn_text, "127.0.0.3:0", {}, 15000);
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));

  const auto dc_ep = dc.endpoint();
  bool lose = true;
  mn.dp.lose_from = [&](const wire::Endpoint& from) { return lose && from == dc_ep; };
  std::optional<node::Resolution> r;
  mn.agent.resolve("cn.e2e.test", [&r](const node::Resolution& x) { r = x; });
  // CN takes epoch 0's first keys; the DC then waits for MN in vain and
  // fails the direction after its direction_timeout_ms (3 s).
  REQUIRE(run_until(io, [&] { return path_to(cn, "mn.e2e.test").has_value(); }));
  const auto first = *path_to(cn, "mn.e2e.test");
  CHECK(first.key_epoch == 0);
  run_until(io, [] { return false; }, 3600);
  CHECK_FALSE(r.has_value());
  dc.stop();
  dc.start();
  lose = false;

  // MN's next retransmission: a new direction of the same path ID.
  REQUIRE(run_until(io, [&] { return r.has_value(); }, 5000));
  REQUIRE(r->kind == node::Resolution::Kind::address);
  const auto mp = path_to(mn, "cn.e2e.test");
  REQUIRE(mp);
  CHECK(mp->id == first.id);
  CHECK(mp->key_epoch == 0);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  CHECK(path_to(cn, "mn.e2e.test")->key_epoch == 0);
  exchange(io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: a node takes its new key while running: same VIP, paths go on, new ones open") {
  // `ntm-dc node rekey` replaced MN's key; ntmd is told (SIGHUP reads the
  // file again) and must not need a restart: its paths keep their own keys,
  // and it registers and gets Route Directions under the new node key.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  const auto cn2_text = dc.enroll_node("cn2.e2e.test");
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0"),
      cn2(io, cn2_text, "127.0.0.4:0");
  mn.agent.start();
  cn.agent.start();
  cn2.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn) && registered(cn2); }));
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  exchange(io, mn, cn);
  const std::uint32_t vip = vip_of(mn);

  dc.stop();
  const auto fresh = node::parse_node_config(dc.rekey_node("mn.e2e.test"));
  dc.start();
  REQUIRE(fresh.id == mn.cfg.id);
  CHECK(fresh.key_epoch == static_cast<std::uint8_t>(mn.cfg.key_epoch + 1));
  CHECK_FALSE(fresh.key.equals(mn.cfg.key));
  // Under the old key the DC answers nothing; the path does not need it.
  exchange(io, mn, cn);

  CHECK(mn.agent.reload_key(fresh.key, fresh.key_epoch));
  CHECK_FALSE(registered(mn));  // until the DC answers under the new key
  CHECK_FALSE(mn.agent.reload_key(fresh.key, fresh.key_epoch));  // the same again: nothing
  REQUIRE(run_until(io, [&] { return registered(mn); }));
  const auto r2 = resolve(io, mn, "cn2.e2e.test");
  REQUIRE(r2);
  REQUIRE(r2->kind == node::Resolution::Kind::address);
  CHECK(vip_of(mn) == vip);
  REQUIRE(path_up(io, cn2, "mn.e2e.test"));
  exchange(io, mn, cn2);
  exchange(io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  cn2.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: re-keyed with a grace period, ntmd keeps working under the old key until SIGHUP") {
  // `ntm-dc node rekey --grace`: the DC (restarted meanwhile) still takes
  // MN's old key and directs new paths to it under that key; once ntmd
  // takes the new key, everything goes on under it.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  const auto cn2_text = dc.enroll_node("cn2.e2e.test");
  const auto cn3_text = dc.enroll_node("cn3.e2e.test");
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0"),
      cn2(io, cn2_text, "127.0.0.4:0"), cn3(io, cn3_text, "127.0.0.5:0");
  mn.agent.start();
  cn.agent.start();
  cn2.agent.start();
  cn3.agent.start();
  REQUIRE(run_until(
      io, [&] { return registered(mn) && registered(cn) && registered(cn2) && registered(cn3); }));
  const std::uint32_t vip = vip_of(mn);

  dc.stop();
  const auto fresh = node::parse_node_config(dc.rekey_node("mn.e2e.test", 3600));
  dc.start();
  // The old key, after the DC's restart: CN2 directs a path to MN (the
  // Route Direction and its path key sealed to MN under the old key, which
  // a restarted DC assumes during a grace), and MN one to CN (the answers
  // under the old key).
  const auto r2 = resolve(io, cn2, "mn.e2e.test");
  REQUIRE(r2);
  REQUIRE(r2->kind == node::Resolution::Kind::address);
  REQUIRE(path_up(io, mn, "cn2.e2e.test"));
  exchange(io, mn, cn2);
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  exchange(io, mn, cn);

  // SIGHUP: the new key, the same VIP, the paths go on, and a new one to
  // MN is sealed under the new key.
  CHECK(mn.agent.reload_key(fresh.key, fresh.key_epoch));
  REQUIRE(run_until(io, [&] { return registered(mn); }));
  CHECK(vip_of(mn) == vip);
  exchange(io, mn, cn);
  exchange(io, mn, cn2);
  const auto r3 = resolve(io, cn3, "mn.e2e.test");
  REQUIRE(r3);
  REQUIRE(r3->kind == node::Resolution::Kind::address);
  REQUIRE(path_up(io, mn, "cn3.e2e.test"));
  exchange(io, mn, cn3);
  mn.agent.stop();
  cn.agent.stop();
  cn2.agent.stop();
  cn3.agent.stop();
  dc.stop();
}

}  // namespace ntm::test
