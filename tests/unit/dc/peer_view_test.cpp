// SPDX-License-Identifier: MIT
// The DC's choice of the address one end uses for its peer (route::
// choose_peer_view) and its reading of the view (state::assign_peer_views).
#include "route/peer_view.hpp"

#include <doctest/doctest.h>

#include "config/config.hpp"
#include "state/end_view.hpp"
#include "state/view.hpp"
#include "store/records.hpp"

using ntm::dc::config::Ipv4Prefix;
using ntm::dc::route::choose_peer_view;
using ntm::dc::route::EndView;

namespace {

constexpr std::uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

const Ipv4Prefix kRouted{ip(100, 64, 0, 0), 10};
const Ipv4Prefix kSubst{ip(100, 126, 0, 0), 16};

EndView end_with(std::uint32_t own, std::vector<std::uint32_t> taken = {}) {
  EndView e;
  e.own_vip = own;
  e.routed = kRouted;
  e.taken = std::move(taken);
  return e;
}

}  // namespace

TEST_CASE("peer view: the peer's VIP when nothing clashes") {
  const auto v = choose_peer_view(end_with(ip(100, 64, 0, 2)), ip(100, 64, 0, 3), 0, kSubst);
  CHECK(v.addr == ip(100, 64, 0, 3));
  CHECK_FALSE(v.substitute);
  CHECK(v.error.empty());
}

TEST_CASE("peer view: a peer VIP equal to the end's own VIP gets a substitute") {
  // Two DCs with the same pool: both nodes are 100.64.0.2.
  const auto v = choose_peer_view(end_with(ip(100, 64, 0, 2)), ip(100, 64, 0, 2), 0, kSubst);
  CHECK(v.substitute);
  CHECK(v.addr == ip(100, 126, 0, 1));  // the lowest usable address of the pool
}

TEST_CASE("peer view: a VIP another peer of the end already has gets a substitute") {
  const EndView e = end_with(ip(100, 64, 0, 2), {ip(100, 64, 0, 9), ip(100, 126, 0, 1)});
  const auto v = choose_peer_view(e, ip(100, 64, 0, 9), 0, kSubst);
  CHECK(v.substitute);
  CHECK(v.addr == ip(100, 126, 0, 2));  // .1 is another peer's substitute already
}

TEST_CASE("peer view: outside the routed range, or its network/broadcast address") {
  const EndView e = end_with(ip(100, 64, 0, 2));
  auto v = choose_peer_view(e, ip(10, 200, 0, 5), 0, kSubst);  // a foreign pool elsewhere
  CHECK(v.substitute);
  CHECK(kSubst.contains(v.addr));
  v = choose_peer_view(e, ip(100, 64, 0, 0), 0, kSubst);
  CHECK(v.substitute);
  v = choose_peer_view(e, ip(100, 127, 255, 255), 0, kSubst);
  CHECK(v.substitute);
  CHECK_FALSE(ntm::dc::route::clash_of(e, ip(100, 64, 0, 3)).size());
  CHECK(ntm::dc::route::clash_of(e, ip(100, 64, 0, 2)) == "it is the end's own VIP");
}

TEST_CASE("peer view: a substitute never equals the peer's VIP nor a taken address") {
  // The peer's VIP lies inside the substitute pool (a foreign DC's) and
  // clashes with the end's own VIP: its own value is not a substitute.
  const EndView e = end_with(ip(100, 126, 0, 1), {ip(100, 126, 0, 2)});
  const auto v = choose_peer_view(e, ip(100, 126, 0, 1), 0, kSubst);
  CHECK(v.addr == ip(100, 126, 0, 3));
}

TEST_CASE("peer view: the substitute is kept across re-directions while free") {
  const EndView e = end_with(ip(100, 64, 0, 2), {ip(100, 126, 0, 1)});
  // Kept .7 from the path's previous direction: still free, so kept,
  // although .2 would be the lowest free one now.
  auto v = choose_peer_view(e, ip(100, 64, 0, 2), ip(100, 126, 0, 7), kSubst);
  CHECK(v.addr == ip(100, 126, 0, 7));
  CHECK(v.substitute);
  // A substitute is kept even when the VIP itself would do now.
  v = choose_peer_view(end_with(ip(100, 64, 0, 2)), ip(100, 64, 0, 5), ip(100, 126, 0, 7), kSubst);
  CHECK(v.addr == ip(100, 126, 0, 7));
  // The VIP itself is kept too.
  v = choose_peer_view(end_with(ip(100, 64, 0, 2)), ip(100, 64, 0, 5), ip(100, 64, 0, 5), kSubst);
  CHECK(v.addr == ip(100, 64, 0, 5));
  CHECK_FALSE(v.substitute);
  // A kept address that is taken by now, or not from the pool, is not.
  v = choose_peer_view(e, ip(100, 64, 0, 2), ip(100, 126, 0, 1), kSubst);
  CHECK(v.addr == ip(100, 126, 0, 2));
  v = choose_peer_view(e, ip(100, 64, 0, 2), ip(100, 65, 0, 1), kSubst);
  CHECK(v.addr == ip(100, 126, 0, 2));
}

TEST_CASE("peer view: an exhausted substitute pool is a clear error") {
  const Ipv4Prefix tiny{ip(100, 126, 0, 0), 30};  // .1 and .2 usable
  const EndView e = end_with(ip(100, 64, 0, 2), {ip(100, 126, 0, 1), ip(100, 126, 0, 2)});
  const auto v = choose_peer_view(e, ip(100, 64, 0, 2), 0, tiny);
  CHECK(v.addr == 0);
  CHECK(v.error == "substitute pool exhausted in this end's view");
  // Without a clash the pool is not needed.
  CHECK(choose_peer_view(e, ip(100, 64, 0, 3), 0, tiny).addr == ip(100, 64, 0, 3));
}

TEST_CASE("peer view: the test hook substitutes even without a clash") {
  const auto v = choose_peer_view(end_with(ip(100, 64, 0, 2)), ip(100, 64, 0, 3), ip(100, 64, 0, 3),
                                  kSubst, true);
  CHECK(v.substitute);
  CHECK(v.addr == ip(100, 126, 0, 1));
}

namespace {

ntm::wire::NodeId node_id(std::uint8_t n) {
  ntm::wire::NodeId id;
  id.bytes[0] = n;
  return id;
}

void add_node(ntm::dc::state::View& view, std::uint8_t n, const std::string& name,
              std::uint32_t vip) {
  ntm::dc::store::PartyRow r;
  r.id = node_id(n);
  r.name = name;
  r.key = ntm::wire::SecretKey::random();
  r.vip = vip;
  r.online = true;
  view.upsert(r);
}

ntm::dc::state::Path path_between(std::uint8_t id, std::uint8_t ini, std::uint8_t resp,
                                  const std::string& resp_name) {
  ntm::dc::state::Path p;
  p.id.bytes[0] = id;
  p.initiator = node_id(ini);
  p.responder = node_id(resp);
  p.responder_fqdn = resp_name;
  return p;
}

ntm::dc::config::Config dc_config() {
  ntm::dc::config::Config c;
  c.vip_pool = Ipv4Prefix{ip(100, 64, 0, 0), 16};
  c.vip_prefix_len = 10;
  c.general_pool = Ipv4Prefix{ip(100, 127, 0, 0), 16};
  c.substitute_pool = kSubst;
  return c;
}

}  // namespace

TEST_CASE("peer views from the DC's view: other peers, the same peer, stability") {
  using namespace ntm::dc::state;
  View view;
  add_node(view, 1, "a.test", ip(100, 64, 0, 2));
  add_node(view, 2, "b.test", ip(100, 64, 0, 3));
  add_node(view, 3, "c.test", ip(100, 64, 0, 4));
  const auto cfg = dc_config();

  // a -> b: nothing clashes, both ends use the VIPs.
  Path ab = path_between(1, 1, 2, "b.test");
  CHECK(assign_peer_views(view, ab, ip(100, 64, 0, 3), cfg).empty());
  CHECK(ab.peer_view[0] == ip(100, 64, 0, 3));
  CHECK(ab.peer_view[1] == ip(100, 64, 0, 2));
  view.put_path(ab);

  // a -> c, where c's VIP (as a foreign DC's would) equals b's: a gets a
  // substitute for c; c's view has no clash.
  Path ac = path_between(2, 1, 3, "c.test");
  CHECK(assign_peer_views(view, ac, ip(100, 64, 0, 3), cfg).empty());
  CHECK(ac.peer_view[0] == ip(100, 126, 0, 1));
  CHECK(ac.peer_view[1] == ip(100, 64, 0, 2));
  view.put_path(ac);

  // A second path a -> b (same peer): b's VIP again, not a clash.
  Path ab2 = path_between(3, 1, 2, "b.test");
  CHECK(assign_peer_views(view, ab2, ip(100, 64, 0, 3), cfg).empty());
  CHECK(ab2.peer_view[0] == ip(100, 64, 0, 3));

  // Re-direction of a -> c: a fresh Path with the same ID keeps .1 (from
  // the version in the view).
  Path again = path_between(2, 1, 3, "c.test");
  again.key_epoch = 1;
  CHECK(assign_peer_views(view, again, ip(100, 64, 0, 3), cfg).empty());
  CHECK(again.peer_view[0] == ip(100, 126, 0, 1));

  // Another clashing peer of a gets the next substitute.
  add_node(view, 4, "d.test", ip(100, 64, 0, 5));
  Path ad = path_between(4, 1, 4, "d.test");
  CHECK(assign_peer_views(view, ad, ip(100, 64, 0, 2), cfg).empty());  // = a's own VIP
  CHECK(ad.peer_view[0] == ip(100, 126, 0, 2));

  // Exhausted: a clear error naming the end.
  auto tiny = cfg;
  tiny.substitute_pool = Ipv4Prefix{ip(100, 126, 0, 0), 30};
  view.put_path(ad);
  add_node(view, 5, "e.test", ip(100, 64, 0, 6));
  Path ae = path_between(5, 1, 5, "e.test");
  const std::string err = assign_peer_views(view, ae, ip(100, 64, 0, 2), tiny);
  CHECK(err == "a.test: substitute pool exhausted in this end's view (100.64.0.2)");
}
