// SPDX-License-Identifier: MIT
// Moves, end to end in one process (docs/mobility.md): a node's socket is
// bound anew to another loopback address (its new network), the agent is
// told as rtnetlink would tell ntmd, and the path must follow with the same
// path ID, VIPs and keys; NTM Updates that are forged or replayed move
// nothing.  Route changes through NATs are the netns tier's (tests/netns).
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dc_in_process.hpp"
#include "e2e_support.hpp"
#include "ntm/common/udp_socket.hpp"
#include "ntm/wire/header.hpp"
#include "pg_test_db.hpp"

namespace ntm::test {

namespace {

constexpr const char* kZone = "e2e.test";

// Two global nodes with a direct path, up at both ends.
struct World {
  explicit World(bool relay = false)
      : dc(db.url(), kZone),
        mn_text(dc.enroll_node("mn.e2e.test")),
        cn_text(dc.enroll_node("cn.e2e.test")),
        rs_text(relay ? dc.enroll_relay("rs1") : std::string()) {
    dc.start();
  }
  void connect(TestNode& mn, TestNode& cn) {
    mn.agent.start();
    cn.agent.start();
    REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
    const auto r = resolve(io, mn, "cn.e2e.test");
    REQUIRE(r);
    REQUIRE(r->kind == node::Resolution::Kind::address);
    REQUIRE(path_up(io, cn, "mn.e2e.test"));
  }
  TestDatabase db;
  InProcessDc dc;
  std::string mn_text, cn_text, rs_text;
  boost::asio::io_context io{1};
};

// Moves mn to a new loopback address, recording the type of every control
// message it sends from then on.
wire::Endpoint move_recording(TestNode& mn, std::vector<wire::MsgType>& sent) {
  mn.dp.control_tap = [&sent](std::span<const std::uint8_t> d, const wire::Endpoint&) {
    wire::ControlHeader h;
    if (wire::peek_control_header(d, h) == wire::Error::ok) sent.push_back(h.common.type);
  };
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  mn.agent.network_changed("test: new network");
  return mn.dp.local();
}

bool is_update(std::span<const std::uint8_t> d) {
  wire::ControlHeader h;
  return wire::peek_control_header(d, h) == wire::Error::ok &&
         h.common.type == wire::MsgType::update_request;
}

// mn's host loses its way out (link_only: the carrier only, the address
// stays; else the address too): the agent holds its path to cn.
wire::PathId lose_route(World& w, TestNode& mn, bool link_only) {
  const auto id = path_to(mn, "cn.e2e.test")->id;
  mn.dp.no_route = [](const wire::Endpoint&) { return true; };
  mn.agent.network_changed(link_only ? "test: link down" : "test: address gone", link_only);
  REQUIRE(run_until(w.io, [&] { return mn.dp.holding(id); }));
  return id;
}

}  // namespace

TEST_CASE("e2e: a node that moves keeps its path: NTM Update, same path ID, VIPs and keys") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  exchange(w.io, mn, cn);
  const auto before = *path_to(mn, "cn.e2e.test");
  const auto vip = vip_of(mn);

  // What mn sends after the move, in order.
  std::vector<wire::MsgType> sent;
  const auto moved_to = move_recording(mn, sent);
  // The CN sends to the new address, having been told (not having guessed
  // from a capsule: nothing was sent since the move).
  REQUIRE(run_until(w.io, [&] {
    const auto cp = path_to(cn, "mn.e2e.test");
    return cp && cn.dp.counters(cp->id)->peer == moved_to;
  }));
  REQUIRE(run_until(w.io, [&] { return path_to(mn, "cn.e2e.test")->moves.updates_answered == 1; }));
  const auto after = *path_to(mn, "cn.e2e.test");
  CHECK(after.id == before.id);
  CHECK(after.key_epoch == before.key_epoch);  // both global: no re-direction, same keys
  CHECK(after.moves.update_seq == 1);
  CHECK(path_to(cn, "mn.e2e.test")->moves.updates_accepted == 1);
  // Registered again, from the new address, with the same VIP.
  REQUIRE(run_until(w.io, [&] { return registered(mn) && mn.agent.status().observed == moved_to; }));
  CHECK(vip_of(mn) == vip);
  CHECK(mn.agent.status().moves == 1);
  // Its only path goes on by the update alone: the registration waited
  // for it (mobility.md §4) and left after it.
  CHECK(mn.agent.status().deferred_registrations == 1);
  const auto first_reg = std::find(sent.begin(), sent.end(), wire::MsgType::registration_request);
  const auto first_update = std::find(sent.begin(), sent.end(), wire::MsgType::update_request);
  REQUIRE(first_reg != sent.end());
  REQUIRE(first_update != sent.end());
  CHECK(first_update < first_reg);
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a move with no path to carry registers at once") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0");
  mn.agent.start();
  REQUIRE(run_until(w.io, [&] { return registered(mn); }));
  std::vector<wire::MsgType> sent;
  const auto moved_to = move_recording(mn, sent);
  // No path waits for it: the round registers as it starts.
  REQUIRE(run_until(w.io, [&] { return !sent.empty(); }));
  CHECK(sent.front() == wire::MsgType::registration_request);
  CHECK(mn.agent.status().deferred_registrations == 0);
  REQUIRE(run_until(w.io, [&] { return registered(mn) && mn.agent.status().observed == moved_to; }));
  mn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: forged and replayed NTM Updates never redirect a path") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  std::vector<std::vector<std::uint8_t>> updates;
  mn.dp.control_tap = [&](std::span<const std::uint8_t> d, const wire::Endpoint&) {
    if (is_update(d)) updates.emplace_back(d.begin(), d.end());
  };
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  const auto moved_to = mn.dp.local();
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] { return path_to(mn, "cn.e2e.test")->moves.updates_answered == 1; }));
  REQUIRE_FALSE(updates.empty());
  const auto id = path_to(cn, "mn.e2e.test")->id;
  REQUIRE(cn.dp.counters(id)->peer == moved_to);
  const auto dropped0 = cn.agent.status().dropped_control;

  common::UdpSocket attacker(endpoint("127.0.0.9:0"));
  // The genuine update again, from elsewhere: a replay.
  attacker.send(updates.front(), cn.dp.local());
  REQUIRE(run_until(w.io, [&] { return cn.agent.status().dropped_control == dropped0 + 1; }, 2000));
  // One bit flipped in the sealed body (a new endpoint would need the key).
  auto forged = updates.front();
  forged[forged.size() - 20] ^= 0x01;
  attacker.send(forged, cn.dp.local());
  REQUIRE(run_until(w.io, [&] { return cn.agent.status().dropped_control == dropped0 + 2; }, 2000));
  // The same with a higher-looking header (txid) and the tag intact: the
  // header is authenticated too.
  auto retagged = updates.front();
  retagged[41] ^= 0x80;  // in the txid (bytes 40..43)
  attacker.send(retagged, cn.dp.local());
  REQUIRE(run_until(w.io, [&] { return cn.agent.status().dropped_control == dropped0 + 3; }, 2000));
  CHECK(cn.dp.counters(id)->peer == moved_to);
  CHECK(path_to(cn, "mn.e2e.test")->moves.updates_accepted == 1);
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a node flapping between networks: updates are rate-limited and it converges") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  const char* places[] = {"127.0.0.4:0", "127.0.0.5:0"};
  for (int i = 0; i < 30; ++i) {
    mn.dp.rebind(endpoint(places[i % 2]));
    mn.agent.network_changed("test: flapping");
    w.io.restart();
    w.io.run_for(std::chrono::milliseconds(4));  // past the settle timer: one round each
  }
  const auto last = mn.dp.local();
  const auto id = path_to(mn, "cn.e2e.test")->id;
  // The peer's token bucket refused some of the storm ...
  REQUIRE(run_until(w.io, [&] { return path_to(cn, "mn.e2e.test")->moves.updates_refused > 0; }, 3000));
  // ... yet ends where the node is now, and the last round is confirmed.
  REQUIRE(run_until(w.io, [&] {
    return cn.dp.counters(id)->peer == last && path_to(mn, "cn.e2e.test")->moves.updates_answered > 0 &&
           registered(mn);
  }, 5000));
  CHECK(mn.agent.status().moves == 30);
  CHECK(path_to(mn, "cn.e2e.test")->moves.update_seq == 30);
  exchange(w.io, mn, cn);
  CHECK(cn.dp.counters(id)->peer == last);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

// The move's blackout (docs/mobility.md §2, "Blackout"): between the old
// address going and the new default route, the kernel refuses every
// capsule.  The data path's routable() stands in for the kernel's route
// lookup here (loopback always has a route); what the agent does with it
// is the real code.
TEST_CASE("e2e: packets sent while the host has no route are kept and delivered in order once it has one") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  exchange(w.io, mn, cn);
  const auto id = lose_route(w, mn, false);
  CHECK(path_to(mn, "cn.e2e.test")->moves.blackout_holds == 1);
  // An application goes on sending: nothing leaves, nothing is lost.
  std::vector<std::vector<std::uint8_t>> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept " + std::to_string(i)));
    CHECK_FALSE(mn.dp.inject(sent.back()));
  }
  const auto before = cn.dp.delivered().size();
  run_until(w.io, [] { return false; }, 100);
  CHECK(cn.dp.delivered().size() == before);
  // Another event of the same move, still without a route: held as it was.
  mn.agent.network_changed("test: link up");
  run_until(w.io, [] { return false; }, 50);
  CHECK(path_to(mn, "cn.e2e.test")->moves.blackout_holds == 1);
  CHECK(cn.dp.delivered().size() == before);
  // The new address and its route: the round updates the path and sends
  // what was kept, oldest first, ahead of anything newer.
  mn.dp.no_route = nullptr;
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  mn.agent.network_changed("test: new network");
  const auto later = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "after the move");
  REQUIRE(run_until(w.io, [&] { return !mn.dp.holding(id); }));
  CHECK(mn.dp.inject(later));
  sent.push_back(later);
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() >= before + sent.size(); }));
  REQUIRE(cn.dp.delivered().size() == before + sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(cn.dp.delivered()[before + i] == sent[i]);
  CHECK(cn.dp.counters(id)->peer == mn.dp.local());
  CHECK(mn.dp.counters(id)->drops == 0);
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: what was kept goes at the first packet once the new network's route is there") {
  // The data path ends the blackout itself, before the control thread's
  // move round: the peer follows an authentic capsule from a new source.
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  exchange(w.io, mn, cn);
  const auto id = lose_route(w, mn, false);
  const auto before = cn.dp.delivered().size();
  std::vector<std::vector<std::uint8_t>> sent;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept " + std::to_string(i)));
    CHECK_FALSE(mn.dp.inject(sent.back()));
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  // The new address and its route, not yet read by the agent (no event
  // handled): the next packet takes everything with it.
  mn.dp.no_route = nullptr;
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  sent.push_back(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "first on the new network"));
  CHECK(mn.dp.inject(sent.back()));
  CHECK_FALSE(mn.dp.holding(id));
  CHECK(mn.dp.counters(id)->route_ends == 1);
  CHECK(mn.agent.status().moves == 1);  // only the round that found no route
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() >= before + sent.size(); }));
  REQUIRE(cn.dp.delivered().size() == before + sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(cn.dp.delivered()[before + i] == sent[i]);
  CHECK(cn.dp.counters(id)->peer == mn.dp.local());  // followed the capsules
  // The round for the event comes after and confirms the move.
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] { return path_to(mn, "cn.e2e.test")->moves.updates_answered == 1; }));
  CHECK(path_to(mn, "cn.e2e.test")->moves.blackout_holds == 1);
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: the route gone again before a round saw it back: the path is held again") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  exchange(w.io, mn, cn);
  const auto id = lose_route(w, mn, false);
  // The new network for a moment: the data path ends the hold at a packet.
  mn.dp.no_route = nullptr;
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  std::this_thread::sleep_for(std::chrono::microseconds(300));
  CHECK(mn.dp.inject(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "through")));
  REQUIRE(mn.dp.counters(id)->route_ends == 1);
  // Gone again; the agent hears of it in the same round as of the return.
  mn.dp.no_route = [](const wire::Endpoint&) { return true; };
  mn.agent.network_changed("test: address gone again");
  REQUIRE(run_until(w.io, [&] { return mn.dp.holding(id); }));
  CHECK(path_to(mn, "cn.e2e.test")->moves.blackout_holds == 2);
  const auto kept = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept again");
  CHECK_FALSE(mn.dp.inject(kept));
  // And once a round finds a route, it goes.
  mn.dp.no_route = nullptr;
  mn.dp.rebind(endpoint("127.0.0.5:0"));
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] { return !cn.dp.delivered().empty() && cn.dp.delivered().back() == kept; }));
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a path whose peer must send first stays held for the round, even once the route is back") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"),
      cn(w.io, w.cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  w.connect(mn, cn);
  REQUIRE(path_to(mn, "cn.e2e.test")->route == wire::RouteType::direct);
  REQUIRE(cn.agent.status().behind_nat);  // its NAT would filter our new address
  exchange(w.io, mn, cn);
  const auto id = lose_route(w, mn, false);
  const auto before = cn.dp.delivered().size();
  const auto kept = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept for the DC's word");
  CHECK_FALSE(mn.dp.inject(kept));
  std::this_thread::sleep_for(std::chrono::microseconds(300));
  mn.dp.no_route = nullptr;
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  const auto next = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "also kept");
  CHECK_FALSE(mn.dp.inject(next));
  CHECK(mn.dp.holding(id));
  CHECK(mn.dp.counters(id)->route_ends == 0);
  CHECK(cn.dp.delivered().size() == before);
  // The round: the DC re-directs the path, the CN sends first, then both go.
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() >= before + 2; }, 5000));
  CHECK(cn.dp.delivered()[before] == kept);
  CHECK(cn.dp.delivered()[before + 1] == next);
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: the link comes back with the same address: what was kept goes after a short wait") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  // The carrier goes (the address stays): no usable route.
  const auto id = lose_route(w, mn, /*link_only=*/true);
  const auto pkt = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept over the roam");
  CHECK_FALSE(mn.dp.inject(pkt));
  const auto before = cn.dp.delivered().size();
  // The carrier is back, same address: an access point roam, or a new
  // network whose address is on its way.  Not sent at once ...
  mn.dp.no_route = nullptr;
  mn.agent.network_changed("test: link up", /*link_only=*/true);
  const auto back = std::chrono::steady_clock::now();
  // ... but once no address change followed (kBlackoutSameAddressMs, 20 ms).
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() > before; }, 1000));
  CHECK(std::chrono::steady_clock::now() - back >= std::chrono::milliseconds(19));
  CHECK(cn.dp.delivered().back() == pkt);
  CHECK_FALSE(mn.dp.holding(id));
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a route that does not come back: what was kept goes out after the blackout bound") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  w.connect(mn, cn);
  const auto id = lose_route(w, mn, false);
  const auto start = std::chrono::steady_clock::now();
  const auto pkt = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept, then sent anyway");
  CHECK_FALSE(mn.dp.inject(pkt));
  const auto before = cn.dp.delivered().size();
  // Kept for kBlackoutHoldMaxMs (3 s), then sent as it would have been
  // without holding (here loopback carries it; on a host with no route the
  // kernel refuses it and the data path counts a send error).
  run_until(w.io, [] { return false; }, 2000);
  CHECK(cn.dp.delivered().size() == before);
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() > before; }, 3000));
  const auto held_for = std::chrono::steady_clock::now() - start;
  CHECK(held_for >= std::chrono::milliseconds(2900));
  CHECK(cn.dp.delivered().back() == pkt);
  CHECK_FALSE(mn.dp.holding(id));
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a global node moves while its CN sits behind NAT: the DC re-directs the same path") {
  // The mover cannot count on reaching a NATed peer from a new address (the
  // NAT filters it): the DC directs the path again, key epoch + 1, and the
  // CN sends first to the new address.  VIPs and path ID stay.
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"),
      cn(w.io, w.cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  w.connect(mn, cn);
  const auto before = *path_to(mn, "cn.e2e.test");
  REQUIRE(before.route == wire::RouteType::direct);
  REQUIRE(cn.agent.status().behind_nat);
  exchange(w.io, mn, cn);

  // What leaves mn's interface between the move and the re-direction.
  std::size_t sent_to_cn = 0;
  mn.dp.tap = [&](std::span<const std::uint8_t>, const wire::Endpoint&) { ++sent_to_cn; };
  const auto delivered_before = cn.dp.delivered().size();
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  mn.agent.network_changed("test: new network");
  // The CN must send first (its NAT would filter our new address): until
  // the path is up again, what the application sends is held, not sent
  // into that NAT, and then goes out in order (docs/mobility.md, "Holding").
  // One handler at a time: in one process the whole re-direction takes
  // well under a millisecond, so the hold is caught between two handlers.
  for (int i = 0; i < 100000 && !mn.dp.holding(before.id); ++i) {
    w.io.restart();
    w.io.run_one_for(std::chrono::milliseconds(5));
  }
  REQUIRE(mn.dp.holding(before.id));
  std::vector<std::vector<std::uint8_t>> during;
  for (std::uint16_t i = 0; i < 5; ++i) {
    during.push_back(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "during the move"));
    during.back().back() = static_cast<std::uint8_t>('0' + i);
    CHECK_FALSE(mn.dp.inject(during.back()));
  }
  CHECK(sent_to_cn == 0);
  REQUIRE(run_until(w.io, [&] {
    const auto m = path_to(mn, "cn.e2e.test");
    const auto c = path_to(cn, "mn.e2e.test");
    return m && c && m->key_epoch == before.key_epoch + 1 && c->key_epoch == before.key_epoch + 1 &&
           m->state == node::PathState::up && c->state == node::PathState::up;
  }));
  CHECK_FALSE(mn.dp.holding(before.id));
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() >= delivered_before + 5; }));
  REQUIRE(cn.dp.delivered().size() == delivered_before + 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(cn.dp.delivered()[delivered_before + i] == during[i]);
  CHECK(sent_to_cn == 5);
  mn.dp.tap = nullptr;
  const auto after = *path_to(mn, "cn.e2e.test");
  CHECK(after.id == before.id);
  CHECK(after.route == wire::RouteType::direct);
  CHECK(after.moves.redirects == 1);
  CHECK(after.peer_view == before.peer_view);
  CHECK(cn.dp.counters(after.id)->peer == mn.dp.local());
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

TEST_CASE("e2e: ntmd restarted at a new place: a direction that was on its way waits for our VIP") {
  // MN's ntmd is down while CN moves behind its NAT: the DC re-directs the
  // path, CN first, then MN at its old address, where nobody answers.  The
  // restarted MN registers from a new place, and the DC sends it the
  // direction again at once: it arrives before the Registration Response.
  // It must be held until MN knows its VIP, or the tunnel is installed for
  // VIP 0 and carries nothing.
  NTM_REQUIRE_PG_OR_SKIP();
  World w;
  auto mn = std::make_unique<TestNode>(w.io, w.mn_text, "127.0.0.2:0");
  TestNode cn(w.io, w.cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  w.connect(*mn, cn);
  const auto before = *path_to(*mn, "cn.e2e.test");
  exchange(w.io, *mn, cn);
  mn->agent.stop();
  mn.reset();
  cn.dp.rebind(endpoint("127.0.0.5:0"));
  cn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] {
    const auto c = path_to(cn, "mn.e2e.test");
    return c && c->key_epoch == before.key_epoch + 1;
  }));
  run_until(w.io, [] { return false; }, 300);  // the DC retransmits to MN's old place
  // The same node, a fresh process, another network.
  TestNode mn2(w.io, w.mn_text, "127.0.0.4:0");
  mn2.agent.start();
  REQUIRE(run_until(w.io, [&] {
    const auto m = path_to(mn2, "cn.e2e.test");
    const auto c = path_to(cn, "mn.e2e.test");
    return m && c && m->state == node::PathState::up && c->state == node::PathState::up &&
           m->key_epoch == c->key_epoch;
  }));
  CHECK(path_to(mn2, "cn.e2e.test")->id == before.id);
  exchange(w.io, mn2, cn);
  mn2.agent.stop();
  cn.agent.stop();
  w.dc.stop();
}

}  // namespace ntm::test

#include "relay_in_process.hpp"

namespace ntm::test {

TEST_CASE("e2e: a node behind NAT moves behind another NAT: its update moves its end at the relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  World w(true);
  InProcessRelay rs(w.rs_text, "127.0.0.6");
  rs.start();
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0", {endpoint("10.1.0.2:4520")}),
      cn(w.io, w.cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  REQUIRE(run_until(w.io, [&] { return rs.registered(); }));
  w.connect(mn, cn);
  const auto before = *path_to(mn, "cn.e2e.test");
  REQUIRE(before.route == wire::RouteType::relay);
  exchange(w.io, mn, cn);

  // A new NAT: the same private address, a new public mapping.
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] { return path_to(mn, "cn.e2e.test")->moves.updates_answered == 1; }));
  const auto after = *path_to(mn, "cn.e2e.test");
  CHECK(after.id == before.id);
  CHECK(after.key_epoch == before.key_epoch);  // relay to relay: no re-direction
  CHECK(after.route == wire::RouteType::relay);
  exchange(w.io, mn, cn);
  // The CN noticed nothing: it still sends to the relay.
  CHECK(cn.dp.counters(after.id)->peer == rs.endpoint());
  mn.agent.stop();
  cn.agent.stop();
  rs.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a blackout on a path through a relay: the data path tells the relay, then sends what was kept") {
  // The CN sits behind NAT (it sends first): after a move the path goes
  // onto its stand-by relay leg.  The relay cannot open a capsule: the
  // update the agent sealed goes first, from the new address, then the
  // kept packets, all before any round has read the route's return.
  NTM_REQUIRE_PG_OR_SKIP();
  World w(true);
  InProcessRelay rs(w.rs_text, "127.0.0.6");
  rs.start();
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"),
      cn(w.io, w.cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  REQUIRE(run_until(w.io, [&] { return rs.registered(); }));
  w.connect(mn, cn);
  REQUIRE(path_to(mn, "cn.e2e.test")->route == wire::RouteType::direct);
  REQUIRE(run_until(w.io, [&] { return path_to(mn, "cn.e2e.test")->relay_up; }));
  exchange(w.io, mn, cn);
  const auto id = lose_route(w, mn, false);
  const auto before = cn.dp.delivered().size();
  std::vector<std::vector<std::uint8_t>> sent;
  sent.push_back(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "kept for the relay"));
  CHECK_FALSE(mn.dp.inject(sent.back()));
  std::this_thread::sleep_for(std::chrono::microseconds(300));
  mn.dp.no_route = nullptr;
  mn.dp.rebind(endpoint("127.0.0.4:0"));
  // What the data path sends, in order: the update, then the packets.
  std::vector<bool> to_relay_updates;
  mn.dp.tap = [&](std::span<const std::uint8_t> d, const wire::Endpoint& to) {
    if (to == rs.endpoint()) to_relay_updates.push_back(is_update(d));
  };
  sent.push_back(udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "first from the new address"));
  CHECK(mn.dp.inject(sent.back()));
  CHECK_FALSE(mn.dp.holding(id));
  CHECK(mn.dp.counters(id)->route_ends == 1);
  CHECK(mn.dp.counters(id)->peer == rs.endpoint());
  CHECK(to_relay_updates == std::vector<bool>{true, false, false});
  // The relay moved our end on the update and carried both, in order; the
  // agent has not run a round since the route came back.
  REQUIRE(run_until(w.io, [&] { return cn.dp.delivered().size() >= before + sent.size(); }));
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(cn.dp.delivered()[before + i] == sent[i]);
  // The round for the event follows: the DC re-directs, the path goes on.
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(w.io, [&] {
    const auto m = path_to(mn, "cn.e2e.test");
    return m && m->state == node::PathState::up && mn.agent.status().observed == mn.dp.local();
  }, 5000));
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  rs.stop();
  w.dc.stop();
}

TEST_CASE("e2e: a direct route that stops answering moves to the relay, same path and VIPs") {
  // Nobody moved: the MN keeps sending, hears nothing back for 3 s, probes
  // with an NTM Update, gets no answer either and asks the DC to re-direct;
  // the DC, seeing no move since the path was directed, puts it on the relay.
  NTM_REQUIRE_PG_OR_SKIP();
  World w(true);
  InProcessRelay rs(w.rs_text, "127.0.0.6");
  rs.start();
  TestNode mn(w.io, w.mn_text, "127.0.0.2:0"), cn(w.io, w.cn_text, "127.0.0.3:0");
  REQUIRE(run_until(w.io, [&] { return rs.registered(); }));
  w.connect(mn, cn);
  const auto before = *path_to(mn, "cn.e2e.test");
  REQUIRE(before.route == wire::RouteType::direct);
  // From now on nothing from the MN reaches the CN directly.
  const auto mn_at = mn.dp.local();
  cn.dp.lose_from = [mn_at](const wire::Endpoint& from) { return from == mn_at; };
  const auto pkt = udp_packet(vip_of(mn), vip_of(cn), 40000, 7, "into the void");
  REQUIRE(run_until(w.io, [&] {
    mn.dp.inject(pkt);  // an application that keeps sending
    const auto m = path_to(mn, "cn.e2e.test");
    const auto c = path_to(cn, "mn.e2e.test");
    return m && c && m->route == wire::RouteType::relay && c->route == wire::RouteType::relay &&
           m->state == node::PathState::up && c->state == node::PathState::up;
  }, 8000));
  const auto after = *path_to(mn, "cn.e2e.test");
  CHECK(after.id == before.id);
  CHECK(after.key_epoch == before.key_epoch + 1);
  CHECK(after.peer_view == before.peer_view);
  CHECK(after.via_relay);
  exchange(w.io, mn, cn);
  mn.agent.stop();
  cn.agent.stop();
  rs.stop();
  w.dc.stop();
}

}  // namespace ntm::test
