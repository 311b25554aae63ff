// SPDX-License-Identifier: MIT
// The route decision, rule by rule, and every row of the paper's Table 1
// (docs/route-decision.md).
#include "route/decision.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

using namespace ntm::wire;
namespace route = ntm::dc::route;
using route::Decision;
using route::Outcome;
using route::Placement;
using route::Policy;

namespace {

// ---- building placements from short descriptions -------------------------

// The test network.  Network B's LAN deliberately uses the same prefix as
// network A's, as two home networks often do: a matching private prefix
// behind two different NATs must not look like one network.
constexpr std::string_view kNatA = "198.51.100.1";
constexpr std::string_view kNatB = "198.51.100.2";
constexpr std::string_view kNatC = "198.51.100.3";

Endpoint ep(std::string_view addr, std::uint16_t port) {
  Endpoint e;
  REQUIRE(IpAddr::parse(addr, e.addr));
  e.port = port;
  return e;
}

// The verdict comes from route::behind_nat, as at registration.
Placement registered(std::vector<Endpoint> local, Endpoint observed) {
  Placement p;
  p.local = std::move(local);
  p.observed = observed;
  p.behind_nat = route::behind_nat(p.local, p.observed);
  return p;
}

// A node on a global address: the DC sees what it reports.
Placement global(std::string_view addr) {
  return registered({ep(addr, 4500)}, ep(addr, 4500));
}

// A node at a private address behind the NAT whose public address is `nat`.
Placement nat(std::string_view private_addr, std::string_view nat_addr) {
  return registered({ep(private_addr, 4500)}, ep(nat_addr, 61001));
}

Placement symmetric(Placement p) {
  p.symmetric_nat = true;
  return p;
}

Placement offline(Placement p) {
  p.online = false;
  return p;
}

// Adds a reported address the DC never saw traffic from (dual stack).
Placement also(Placement p, std::string_view addr) {
  p.local.push_back(ep(addr, 4500));
  return p;
}

// A host without NTMobile: the DC knows only its address (from DNS).
Placement general(std::string_view addr) {
  Placement p;
  p.ntmobile = false;
  p.online = false;
  p.observed = ep(addr, 0);
  return p;
}

Policy no_relay() {
  Policy p;
  p.relay_available = false;
  return p;
}

void check_route(const Decision& d, RouteType route, FirstSender first) {
  CHECK(d.outcome == Outcome::ok);
  CHECK(d.route == route);
  CHECK(d.first == first);
}

}  // namespace

// ---- behind_nat ------------------------------------------------------------

TEST_CASE("route behind_nat: observed address:port against the reported ones") {
  const Endpoint local = ep("192.168.1.10", 4500);
  SUBCASE("observed equals the only local -> not behind NAT") {
    CHECK_FALSE(route::behind_nat({local}, local));
  }
  SUBCASE("address and port both differ -> NAT") {
    CHECK(route::behind_nat({local}, ep("198.51.100.1", 61001)));
  }
  SUBCASE("port differs -> NAT (a port-translating NAT or firewall)") {
    CHECK(route::behind_nat({local}, ep("198.51.100.1", 4500)));
  }
  SUBCASE("address equal but port differs -> NAT") {
    CHECK(route::behind_nat({local}, ep("192.168.1.10", 4501)));
  }
  SUBCASE("observed equals one of several locals -> not behind NAT") {
    const std::vector<Endpoint> several = {ep("192.168.1.10", 4500), ep("2001:db8::10", 4500),
                                           ep("203.0.113.10", 4500)};
    CHECK_FALSE(route::behind_nat(several, ep("203.0.113.10", 4500)));
    CHECK_FALSE(route::behind_nat(several, ep("2001:db8::10", 4500)));
    CHECK(route::behind_nat(several, ep("2001:db8::11", 4500)));
  }
  SUBCASE("empty observed endpoint -> false") {
    CHECK_FALSE(route::behind_nat({local}, Endpoint{}));
    CHECK_FALSE(route::behind_nat({}, Endpoint{}));
  }
  SUBCASE("no locals reported -> whatever was observed is a NAT") {
    CHECK(route::behind_nat({}, local));
  }
  SUBCASE("same bytes, other family -> NAT") {
    Endpoint v6 = local;
    v6.addr.family = Family::v6;
    CHECK(route::behind_nat({local}, v6));
  }
}

// ---- one test per rule -----------------------------------------------------

TEST_CASE("route decision: a general host is reached through the relay, MN first") {
  for (const Placement& mn : {global("203.0.113.10"), nat("192.168.1.30", kNatA),
                              symmetric(nat("192.168.1.30", kNatA))}) {
    const Decision d = route::decide(mn, general("192.0.2.80"));
    check_route(d, RouteType::relay_general, FirstSender::initiator);
    CHECK(d.reason == route::reason::general_host);
    CHECK(d.family == Family::none);
  }
  SUBCASE("also across families: the RS translates") {
    check_route(route::decide(global("203.0.113.10"), general("2001:db8::80")),
                RouteType::relay_general, FirstSender::initiator);
  }
  SUBCASE("without a relay it cannot be reached") {
    const Decision d = route::decide(global("203.0.113.10"), general("192.0.2.80"), no_relay());
    CHECK(d.outcome == Outcome::no_relay);
    CHECK(d.route == RouteType::relay_general);
    CHECK(d.reason == route::reason::general_host);
  }
}

TEST_CASE("route decision: an offline CN") {
  const Decision d = route::decide(global("203.0.113.10"), offline(global("192.0.2.50")));
  CHECK(d.outcome == Outcome::peer_offline);
  CHECK(d.reason == route::reason::cn_offline);
  // Offline wins over everything the route would have needed.
  CHECK(route::decide(nat("192.168.1.30", kNatA), offline(nat("10.0.2.5", kNatB)), no_relay())
            .outcome == Outcome::peer_offline);
  CHECK(
      route::decide(global("203.0.113.10"), offline(global("2001:db8::50")), no_relay()).outcome ==
      Outcome::peer_offline);
}

TEST_CASE("route decision: both global -> direct, MN first") {
  const Decision d = route::decide(global("203.0.113.10"), global("192.0.2.50"), no_relay());
  check_route(d, RouteType::direct, FirstSender::initiator);
  CHECK(d.reason == route::reason::both_global);
  CHECK(d.family == Family::v4);
  const Decision d6 = route::decide(global("2001:db8::10"), global("2001:db8:1::50"));
  check_route(d6, RouteType::direct, FirstSender::initiator);
  CHECK(d6.family == Family::v6);
}

TEST_CASE("route decision: MN behind NAT, CN global -> direct, MN first") {
  SUBCASE("cone NAT") {
    const Decision d = route::decide(nat("192.168.1.30", kNatA), global("192.0.2.50"), no_relay());
    check_route(d, RouteType::direct, FirstSender::initiator);
    CHECK(d.reason == route::reason::mn_behind_nat);
    CHECK(d.family == Family::v4);
  }
  SUBCASE("symmetric NAT: the CN answers to the source it sees") {
    const Decision d = route::decide(symmetric(nat("192.168.1.30", kNatA)), global("192.0.2.50"));
    check_route(d, RouteType::direct, FirstSender::initiator);
    CHECK(d.reason == route::reason::mn_behind_nat);
  }
  SUBCASE("a symmetric flag alone counts as NAT") {
    const Decision d = route::decide(symmetric(global("203.0.113.10")), global("192.0.2.50"));
    check_route(d, RouteType::direct, FirstSender::initiator);
    CHECK(d.reason == route::reason::mn_behind_nat);
  }
}

TEST_CASE("route decision: MN global, CN behind NAT -> direct, CN first") {
  SUBCASE("cone NAT") {
    const Decision d =
        route::decide(global("203.0.113.10"), nat("192.168.1.20", kNatA), no_relay());
    check_route(d, RouteType::direct, FirstSender::responder);
    CHECK(d.reason == route::reason::cn_behind_nat);
    CHECK(d.family == Family::v4);
  }
  SUBCASE("symmetric NAT") {
    const Decision d = route::decide(global("203.0.113.10"), symmetric(nat("192.168.1.20", kNatA)));
    check_route(d, RouteType::direct, FirstSender::responder);
    CHECK(d.reason == route::reason::cn_behind_nat);
  }
}

TEST_CASE("route decision: same NAT and network -> direct over private addresses, both first") {
  const Placement cn = nat("192.168.1.20", kNatA);
  SUBCASE("cone NAT") {
    const Decision d = route::decide(nat("192.168.1.30", kNatA), cn, no_relay());
    check_route(d, RouteType::direct_private, FirstSender::both);
    CHECK(d.reason == route::reason::same_nat_network);
    CHECK(d.family == Family::v4);
  }
  SUBCASE("symmetric NAT on either side: the traffic never crosses it") {
    check_route(route::decide(symmetric(nat("192.168.1.30", kNatA)), cn), RouteType::direct_private,
                FirstSender::both);
    check_route(route::decide(nat("192.168.1.30", kNatA), symmetric(cn)), RouteType::direct_private,
                FirstSender::both);
  }
  SUBCASE("one shared pair among several addresses is enough") {
    const Placement mn = also(nat("10.9.9.9", kNatA), "192.168.1.31");
    check_route(route::decide(mn, cn), RouteType::direct_private, FirstSender::both);
  }
  SUBCASE("the prefix length comes from the policy") {
    Policy wide;
    wide.same_network_prefix_len = 16;
    check_route(route::decide(nat("192.168.7.30", kNatA), cn, wide), RouteType::direct_private,
                FirstSender::both);
    Policy host_only;
    host_only.same_network_prefix_len = 32;
    CHECK(route::decide(nat("192.168.1.30", kNatA), cn, host_only).route == RouteType::relay);
    Policy too_long;  // clamped to 32
    too_long.same_network_prefix_len = 99;
    CHECK(route::decide(nat("192.168.1.30", kNatA), cn, too_long).route == RouteType::relay);
    Policy any;  // /0: one NAT is one network
    any.same_network_prefix_len = 0;
    check_route(route::decide(nat("10.0.0.30", kNatA), cn, any), RouteType::direct_private,
                FirstSender::both);
  }
}

TEST_CASE("route decision: same NAT but a different /24 -> relay") {
  const Placement cn = nat("192.168.1.20", kNatA);
  const Decision d = route::decide(nat("192.168.7.30", kNatA), cn);
  check_route(d, RouteType::relay, FirstSender::both);
  CHECK(d.reason == route::reason::same_nat_other_network);
  CHECK(d.family == Family::none);
  SUBCASE("no IPv4 local address to compare -> cannot tell -> relay") {
    const Placement mn = registered({ep("2001:db8::30", 4500)}, ep(kNatA, 61002));
    CHECK(route::decide(mn, cn).route == RouteType::relay);
  }
  SUBCASE("link-local addresses do not make a shared network") {
    const Placement mn_ll = registered({ep("169.254.1.30", 4500)}, ep(kNatA, 61002));
    const Placement cn_ll = registered({ep("169.254.1.20", 4500)}, ep(kNatA, 61003));
    CHECK(route::decide(mn_ll, cn_ll).route == RouteType::relay);
  }
  SUBCASE("without a relay") {
    const Decision n = route::decide(nat("192.168.7.30", kNatA), cn, no_relay());
    CHECK(n.outcome == Outcome::no_relay);
    CHECK(n.route == RouteType::relay);
  }
}

TEST_CASE("route decision: two NATs -> relay, both first") {
  const Placement cn = nat("192.168.1.20", kNatA);
  SUBCASE("different NATs, even with the same private prefix") {
    const Decision d = route::decide(nat("192.168.1.30", kNatB), cn);
    check_route(d, RouteType::relay, FirstSender::both);
    CHECK(d.reason == route::reason::two_nats);
  }
  SUBCASE("symmetric NAT on either side") {
    const Decision d = route::decide(symmetric(nat("10.0.2.30", kNatB)), cn);
    check_route(d, RouteType::relay, FirstSender::both);
    CHECK(d.reason == route::reason::symmetric_nat);
    const Decision e = route::decide(nat("10.0.2.30", kNatB), symmetric(cn));
    CHECK(e.route == RouteType::relay);
    CHECK(e.reason == route::reason::symmetric_nat);
  }
  SUBCASE("symmetric NAT, same NAT, different network") {
    const Decision d = route::decide(symmetric(nat("192.168.7.30", kNatA)), cn);
    check_route(d, RouteType::relay, FirstSender::both);
    CHECK(d.reason == route::reason::symmetric_nat);
  }
  SUBCASE("no relay available") {
    const Decision d = route::decide(nat("10.0.2.30", kNatB), cn, no_relay());
    CHECK(d.outcome == Outcome::no_relay);
    CHECK(d.route == RouteType::relay);
    CHECK(d.reason == route::reason::two_nats);
  }
}

TEST_CASE("route decision: address families") {
  SUBCASE("IPv4-only against IPv6-only -> relay (the RS translates)") {
    const Decision d = route::decide(global("203.0.113.10"), global("2001:db8::50"));
    check_route(d, RouteType::relay, FirstSender::both);
    CHECK(d.reason == route::reason::no_common_family);
    CHECK(d.family == Family::none);
    const Decision e = route::decide(nat("192.168.1.30", kNatA), global("2001:db8::50"));
    check_route(e, RouteType::relay, FirstSender::both);
  }
  SUBCASE("IPv6-only against IPv4-only without a relay -> no_common_family") {
    const Decision d = route::decide(global("2001:db8::10"), global("192.0.2.50"), no_relay());
    CHECK(d.outcome == Outcome::no_common_family);
    CHECK(d.route == RouteType::relay);
  }
  SUBCASE("an end with no usable address shares no family") {
    const Placement nothing = registered({}, Endpoint{});
    CHECK(route::decide(global("203.0.113.10"), nothing).reason == route::reason::no_common_family);
  }
  SUBCASE("IPv6 link-local or loopback is no IPv6 connectivity") {
    const Placement mn = also(also(global("203.0.113.10"), "fe80::1"), "::1");
    CHECK(route::decide(mn, global("2001:db8::50")).reason == route::reason::no_common_family);
    const Placement mn4 = also(global("2001:db8::10"), "127.0.0.1");
    CHECK(route::decide(mn4, global("192.0.2.50")).reason == route::reason::no_common_family);
  }
  SUBCASE("dual stack: the family both registered over, with measured verdicts") {
    const Placement mn = also(global("203.0.113.10"), "2001:db8::10");
    const Placement cn = also(global("192.0.2.50"), "2001:db8:1::50");
    const Decision d = route::decide(mn, cn);
    check_route(d, RouteType::direct, FirstSender::initiator);
    CHECK(d.family == Family::v4);
    CHECK(d.reason == route::reason::both_global);
  }
  SUBCASE("IPv6-only MN, dual-stack CN registered over IPv4 -> direct over IPv6, CN first") {
    // The CN's IPv6 verdict is unmeasured, so the MN (measured global) is
    // not the one who must wait: the CN sends first.
    const Decision d =
        route::decide(global("2001:db8::10"), also(global("192.0.2.50"), "2001:db8:1::50"));
    check_route(d, RouteType::direct, FirstSender::responder);
    CHECK(d.family == Family::v6);
  }
  SUBCASE("MN registered over IPv6; its IPv4 may be behind NAT -> it sends first") {
    const Placement mn = also(global("2001:db8::10"), "192.168.1.30");
    const Decision d = route::decide(mn, global("192.0.2.50"));
    check_route(d, RouteType::direct, FirstSender::initiator);
    CHECK(d.family == Family::v4);
    CHECK(d.reason == route::reason::mn_behind_nat);
  }
  SUBCASE("unmeasured on one side and NAT on the other -> relay") {
    const Placement mn = also(global("2001:db8::10"), "192.168.1.30");
    const Decision d = route::decide(mn, nat("192.168.1.20", kNatA));
    check_route(d, RouteType::relay, FirstSender::both);
    CHECK(d.reason == route::reason::unmeasured);
  }
  SUBCASE("MN behind IPv4 NAT, CN registered over IPv6 -> direct over IPv6") {
    // CGNAT'd IPv4 plus native IPv6: the v6 side registered over IPv6.
    const Placement mn = also(nat("100.64.0.30", kNatB), "2001:db8::10");
    const Placement cn = also(global("2001:db8:1::50"), "192.168.1.20");
    const Decision d = route::decide(mn, cn);
    check_route(d, RouteType::direct, FirstSender::initiator);
    CHECK(d.family == Family::v6);
  }
  SUBCASE("both behind NAT over IPv4, IPv6 unmeasured on both -> relay, the measured reason") {
    const Placement mn = also(nat("10.0.2.30", kNatB), "2001:db8::10");
    const Placement cn = also(nat("192.168.1.20", kNatA), "2001:db8:1::50");
    const Decision d = route::decide(mn, cn);
    check_route(d, RouteType::relay, FirstSender::both);
    CHECK(d.reason == route::reason::two_nats);
  }
}

// ---- the paper's Table 1 ---------------------------------------------------

namespace {

struct Row {
  int number;
  std::string_view mn_move;  // before -> after; only "after" reaches the DC
  Placement mn;              // the MN after the move
  Placement cn;
  RouteType route;
  FirstSender first;
};

// Placements.  G: a global address; P(X): a private address behind NAT X.
// The CN in P(A) is 192.168.1.20.  An MN in P(A) shares its /24 unless the
// row is a "different subnet behind the same NAT" variant.
Placement mn_g() {
  return global("203.0.113.10");
}
Placement mn_g_new() {
  return global("203.0.113.77");
}
Placement mn_pa() {
  return nat("192.168.1.30", kNatA);
}
Placement mn_pa_other_subnet() {
  return nat("192.168.7.30", kNatA);
}
Placement mn_pb() {
  return nat("192.168.1.30", kNatB);
}  // B's LAN reuses A's prefix
Placement mn_pc() {
  return nat("172.16.0.30", kNatC);
}
Placement cn_g() {
  return global("192.0.2.50");
}
Placement cn_general() {
  return general("192.0.2.80");
}
Placement cn_pa() {
  return nat("192.168.1.20", kNatA);
}

}  // namespace

TEST_CASE("route decision: Table 1, all 17 movement patterns") {
  using R = RouteType;
  using F = FirstSender;
  const std::vector<Row> table = {
      // CN global, NTMobile: end-to-end; CN global, general: via relay.
      {1, "G -> G", mn_g_new(), cn_g(), R::direct, F::initiator},
      {2, "G -> G", mn_g_new(), cn_general(), R::relay_general, F::initiator},
      {3, "G -> P(A)", mn_pa(), cn_g(), R::direct, F::initiator},
      {4, "G -> P(A)", mn_pa(), cn_general(), R::relay_general, F::initiator},
      {5, "P(A) -> G", mn_g(), cn_g(), R::direct, F::initiator},
      {6, "P(A) -> G", mn_g(), cn_general(), R::relay_general, F::initiator},
      {7, "P(A) -> P(A)", nat("192.168.1.31", kNatA), cn_g(), R::direct, F::initiator},
      {8, "P(A) -> P(A)", nat("192.168.1.31", kNatA), cn_general(), R::relay_general, F::initiator},
      {9, "P(A) -> P(B)", mn_pb(), cn_g(), R::direct, F::initiator},
      {10, "P(A) -> P(B)", mn_pb(), cn_general(), R::relay_general, F::initiator},
      // CN in P(A), NTMobile.
      {11, "G -> G", mn_g_new(), cn_pa(), R::direct, F::responder},
      // Paper: via relay.  Ours: direct over private addresses when the two
      // share a network (the variant below covers "cannot tell").
      {12, "G -> P(A)", mn_pa(), cn_pa(), R::direct_private, F::both},
      {13, "G -> P(B)", mn_pb(), cn_pa(), R::relay, F::both},
      {14, "P(B) -> G", mn_g(), cn_pa(), R::direct, F::responder},
      // Paper: via relay or end-to-end.  Ours as row 12.
      {15, "P(B) -> P(A)", mn_pa(), cn_pa(), R::direct_private, F::both},
      {16, "P(A) -> P(B)", mn_pb(), cn_pa(), R::relay, F::both},
      {17, "P(B) -> P(C)", mn_pc(), cn_pa(), R::relay, F::both},
      // Rows 12 and 15 where the DC cannot tell that they share a network
      // (same NAT, other subnet): the paper's relay.
      {12, "G -> P(A), other subnet", mn_pa_other_subnet(), cn_pa(), R::relay, F::both},
      {15, "P(B) -> P(A), other subnet", mn_pa_other_subnet(), cn_pa(), R::relay, F::both},
  };
  int rows_seen[18] = {};
  for (const Row& row : table) {
    INFO("Table 1 row ", row.number, ": MN ", row.mn_move);
    const Decision d = route::decide(row.mn, row.cn);
    CHECK(d.outcome == Outcome::ok);
    CHECK(d.route == row.route);
    CHECK(d.first == row.first);
    ++rows_seen[row.number];
  }
  for (int n = 1; n <= 17; ++n) {
    INFO("row ", n);
    CHECK(rows_seen[n] >= 1);
  }
}

TEST_CASE("route decision: Table 1's relayed rows fail cleanly without a relay") {
  // Rows 2, 13 and 17 need the RS; rows 1, 11 and 12 do not.
  CHECK(route::decide(mn_g(), cn_general(), no_relay()).outcome == Outcome::no_relay);
  CHECK(route::decide(mn_pb(), cn_pa(), no_relay()).outcome == Outcome::no_relay);
  CHECK(route::decide(mn_pc(), cn_pa(), no_relay()).outcome == Outcome::no_relay);
  CHECK(route::decide(mn_g(), cn_g(), no_relay()).outcome == Outcome::ok);
  CHECK(route::decide(mn_g(), cn_pa(), no_relay()).outcome == Outcome::ok);
  CHECK(route::decide(mn_pa(), cn_pa(), no_relay()).outcome == Outcome::ok);
}

// ---- re-decision after a move (docs/route-decision.md "Re-decision") -------

namespace {

// Decides for the placements after the move and asks whether the DC must
// direct the path again, the initiator being the one that moved unless
// said otherwise.
bool redirect(RouteType current, const Placement& mn, const Placement& cn, bool mn_moved = true,
              bool cn_moved = false, const Policy& policy = {}) {
  return route::redirect_after_move(current, route::decide(mn, cn, policy), mn, cn, mn_moved,
                                    cn_moved);
}

}  // namespace

TEST_CASE("re-decision: the route type changes -> re-directed") {
  // Table 1 row 13: G -> P(B) with the CN behind NAT A.
  CHECK(redirect(RouteType::direct, nat("192.168.1.30", kNatB), nat("192.168.1.20", kNatA)));
  // Row 14: P(B) -> G, relay -> direct (route optimisation).
  CHECK(redirect(RouteType::relay, global("203.0.113.5"), nat("192.168.1.20", kNatA)));
  // Row 12: the MN enters the CN's private network.
  CHECK(redirect(RouteType::direct, nat("192.168.1.30", kNatA), nat("192.168.1.20", kNatA)));
  // direct_private -> out of the network to a global address: direct.
  CHECK(redirect(RouteType::direct_private, global("203.0.113.5"), nat("192.168.1.20", kNatA)));
}

TEST_CASE("re-decision: direct_private stays direct_private -> re-directed all the same") {
  // A new address in the CN's network: the mover went onto its stand-by
  // relay (it cannot tell it stayed), and only a re-direction brings it back.
  CHECK(redirect(RouteType::direct_private, nat("192.168.1.31", kNatA),
                 nat("192.168.1.20", kNatA)));
  // The CN moved within the network, the MN did not; both moved.
  CHECK(redirect(RouteType::direct_private, nat("192.168.1.30", kNatA),
                 nat("192.168.1.21", kNatA), false, true));
  CHECK(redirect(RouteType::direct_private, nat("192.168.1.31", kNatA),
                 nat("192.168.1.21", kNatA), true, true));
  // Neither moved: nothing to re-decide.
  CHECK_FALSE(redirect(RouteType::direct_private, nat("192.168.1.30", kNatA),
                       nat("192.168.1.20", kNatA), false, false));
}

TEST_CASE("re-decision: direct stays direct -> only when the peer is behind NAT") {
  // Row 11: G -> G with the CN behind NAT A: the CN must send first again.
  CHECK(redirect(RouteType::direct, global("203.0.113.6"), nat("192.168.1.20", kNatA)));
  // A symmetric NAT is a NAT.
  Placement sym = symmetric(global("198.51.100.9"));
  CHECK(redirect(RouteType::direct, global("203.0.113.6"), sym));
  // Row 1: G -> G, CN global: the MN's NTM Update reaches it.
  CHECK_FALSE(redirect(RouteType::direct, global("203.0.113.6"), global("203.0.113.20")));
  // Rows 3, 7, 9: the MN behind (another) NAT, CN global: its update reaches the CN.
  CHECK_FALSE(redirect(RouteType::direct, nat("192.168.1.30", kNatB), global("203.0.113.20")));
  // The CN moved (G -> G) and the MN, which did not, is behind NAT: the MN must be told.
  CHECK(redirect(RouteType::direct, nat("192.168.1.30", kNatB), global("203.0.113.21"), false,
                 true));
  // The CN moved and the MN is global: the CN's update reaches it.
  CHECK_FALSE(redirect(RouteType::direct, global("203.0.113.6"), global("203.0.113.21"), false,
                       true));
  // Both moved: each one's update goes to the other's old address.
  CHECK(redirect(RouteType::direct, global("203.0.113.6"), global("203.0.113.21"), true, true));
  // A peer global in IPv4 but unmeasured in the family the route uses.
  const Placement mn6 = registered({ep("2001:db8::6", 4500)}, ep("2001:db8::6", 4500));
  const Placement cn46 = also(global("203.0.113.20"), "2001:db8::20");
  const Decision d = route::decide(mn6, cn46);
  REQUIRE(d.outcome == Outcome::ok);
  REQUIRE(d.family == Family::v6);
  CHECK(route::redirect_after_move(RouteType::direct, d, mn6, cn46, true, false));
}

TEST_CASE("re-decision: relayed routes that stay -> the nodes update them") {
  // Rows 16, 17: P(A) -> P(B) / P(B) -> P(C) with the CN behind NAT A: relay -> relay.
  CHECK_FALSE(redirect(RouteType::relay, nat("192.168.1.30", kNatC), nat("192.168.1.20", kNatA)));
  // (direct_private that stays: re-directed, see above.)
  // A general host: never.
  CHECK_FALSE(redirect(RouteType::relay_general, nat("192.168.1.30", kNatB), general("192.0.2.80")));
  // Nobody moved: nothing to do.
  CHECK_FALSE(redirect(RouteType::direct, global("203.0.113.6"), nat("192.168.1.20", kNatA), false,
                       false));
  // No route any more (the CN went offline, or no relay): the path stays.
  CHECK_FALSE(redirect(RouteType::direct, global("203.0.113.6"),
                       offline(nat("192.168.1.20", kNatA))));
  CHECK_FALSE(redirect(RouteType::direct, nat("192.168.1.30", kNatB), nat("192.168.1.20", kNatA),
                       true, false, no_relay()));
}

TEST_CASE("re-decision: a redirect without a move puts a failed direct route on the relay") {
  const Decision direct = route::decide(global("203.0.113.6"), nat("192.168.1.20", kNatA));
  REQUIRE(direct.route == RouteType::direct);
  const Decision d = route::after_route_failed(RouteType::direct, direct, Policy{});
  check_route(d, RouteType::relay, FirstSender::both);
  CHECK(d.reason == route::reason::route_failed);
  CHECK(d.family == Family::none);
  // direct_private: the same.
  const Decision priv = route::decide(nat("192.168.1.30", kNatA), nat("192.168.1.20", kNatA));
  REQUIRE(priv.route == RouteType::direct_private);
  check_route(route::after_route_failed(RouteType::direct_private, priv, Policy{}), RouteType::relay,
              FirstSender::both);
  // No relay: the same route again.
  check_route(route::after_route_failed(RouteType::direct, direct, no_relay()), RouteType::direct,
              FirstSender::responder);
  // The decision differs from the current route: taken as it is.
  check_route(route::after_route_failed(RouteType::relay, direct, Policy{}), RouteType::direct,
              FirstSender::responder);
  // Already relayed: relayed again.
  const Decision relay = route::decide(nat("192.168.1.30", kNatB), nat("192.168.1.20", kNatA));
  check_route(route::after_route_failed(RouteType::relay, relay, Policy{}), RouteType::relay,
              FirstSender::both);
  CHECK(route::after_route_failed(RouteType::relay, relay, Policy{}).reason == route::reason::two_nats);
}

TEST_CASE("stand-by relay: direct_private always, direct with a NATed first sender when asked") {
  const Decision cn_nat = route::decide(global("203.0.113.6"), nat("192.168.1.20", kNatA));
  REQUIRE(cn_nat.route == RouteType::direct);
  REQUIRE(cn_nat.first == FirstSender::responder);
  const Decision mn_nat = route::decide(nat("192.168.1.20", kNatA), global("203.0.113.6"));
  REQUIRE(mn_nat.route == RouteType::direct);
  REQUIRE(mn_nat.first == FirstSender::initiator);
  const Decision both = route::decide(global("203.0.113.6"), global("203.0.113.7"));
  REQUIRE(both.route == RouteType::direct);
  const Decision priv = route::decide(nat("192.168.1.30", kNatA), nat("192.168.1.20", kNatA));
  REQUIRE(priv.route == RouteType::direct_private);
  const Decision relay = route::decide(nat("192.168.1.30", kNatB), nat("192.168.1.20", kNatA));
  REQUIRE(relay.route == RouteType::relay);
  const Decision offline_cn = route::decide(global("203.0.113.6"), offline(nat("192.168.1.20", kNatA)));
  REQUIRE(offline_cn.outcome == Outcome::peer_offline);

  CHECK(route::standby_relay(cn_nat, true));
  CHECK(route::standby_relay(mn_nat, true));
  CHECK_FALSE(route::standby_relay(cn_nat, false));
  CHECK_FALSE(route::standby_relay(mn_nat, false));
  // Both global: each end's NTM Update reaches the other; no stand-by.
  CHECK_FALSE(route::standby_relay(both, true));
  // direct_private keeps its fallback whatever the setting.
  CHECK(route::standby_relay(priv, true));
  CHECK(route::standby_relay(priv, false));
  // Relayed routes are on the relay already; a failed decision builds nothing.
  CHECK_FALSE(route::standby_relay(relay, true));
  CHECK_FALSE(route::standby_relay(route::decide(global("203.0.113.6"), general("192.0.2.80")), true));
  CHECK_FALSE(route::standby_relay(offline_cn, true));
}
