// SPDX-License-Identifier: MIT
// A relay that restarts has forgotten every path it carried or stood by for;
// a relay that goes away leaves them with nobody.  The DC directs those
// paths again (docs/dc.md §8.4, "A relay that restarts"): on the restarted
// relay's first registration (reason `start`), with the same relay; when a
// relay goes offline, onto another.  Either way without waiting for a move
// or for an end to find its path dead.
#include <doctest/doctest.h>

#include <memory>

#include "dc_in_process.hpp"
#include "e2e_support.hpp"
#include "pg_test_db.hpp"
#include "relay_in_process.hpp"

namespace ntm::test {

namespace {

constexpr const char* kZone = "e2e.test";

// mn global, cn and dn behind two different NATs (they claim private
// addresses the DC does not see them at), one relay rs1: mn -> cn is direct
// (cn sends first) with a stand-by leg at rs1, cn -> dn goes through rs1.
struct TwoPathsOnRelay {
  // keepalive_s/lifetime_s: the DC's timers (how soon a silent relay is offline).
  TwoPathsOnRelay(const std::string& url, unsigned keepalive_s, unsigned lifetime_s)
      : dc(url, kZone),
        mn_text(dc.enroll_node("mn.e2e.test")),
        cn_text(dc.enroll_node("cn.e2e.test")),
        dn_text(dc.enroll_node("dn.e2e.test")),
        rs1_text(dc.enroll_relay("rs1")),
        rs2_text(dc.enroll_relay("rs2")) {
    dc.set_liveness(keepalive_s, lifetime_s);
    dc.start();
    rs1 = std::make_unique<InProcessRelay>(rs1_text, "127.0.0.4");
    rs1->start();
    mn = std::make_unique<TestNode>(io, mn_text, "127.0.0.2:0");
    cn = std::make_unique<TestNode>(io, cn_text, "127.0.0.3:0",
                                    std::vector<wire::Endpoint>{endpoint("10.9.0.2:4520")});
    dn = std::make_unique<TestNode>(io, dn_text, "127.0.0.5:0",
                                    std::vector<wire::Endpoint>{endpoint("10.8.0.2:4520")});
    mn->agent.start();
    cn->agent.start();
    dn->agent.start();
  }
  ~TwoPathsOnRelay() {
    mn->agent.stop();
    cn->agent.stop();
    dn->agent.stop();
    rs1->stop();
    if (rs2) rs2->stop();
    dc.stop();
  }
  // Both paths up, both on rs1; data through the relayed one.
  void make_paths() {
    REQUIRE(run_until(io, [&] {
      return registered(*mn) && registered(*cn) && registered(*dn) && rs1->registered();
    }));
    REQUIRE(resolve(io, *mn, "cn.e2e.test"));
    REQUIRE(path_up(io, *cn, "mn.e2e.test"));
    REQUIRE(resolve(io, *cn, "dn.e2e.test"));
    REQUIRE(path_up(io, *dn, "cn.e2e.test"));
    standby = *path_to(*mn, "cn.e2e.test");
    relayed = *path_to(*cn, "dn.e2e.test");
    REQUIRE(standby.route == wire::RouteType::direct);
    REQUIRE(standby.relay == rs1->endpoint());
    REQUIRE(relayed.route == wire::RouteType::relay);
    REQUIRE(relayed.relay == rs1->endpoint());
    REQUIRE(run_until(io, [&] { return rs1->paths() == 2 && standby_up(); }));
    exchange(io, *cn, *dn);
  }
  bool standby_up() const {
    const auto p = path_to(*mn, "cn.e2e.test");
    return p && p->relay_up;
  }
  // Both paths under the next key epoch at every end.
  bool redirected() const {
    const auto a = path_to(*mn, "cn.e2e.test");
    const auto b = path_to(*cn, "dn.e2e.test");
    const auto c = path_to(*dn, "cn.e2e.test");
    return a && b && c && a->key_epoch == standby.key_epoch + 1 &&
           b->key_epoch == relayed.key_epoch + 1 && c->key_epoch == b->key_epoch;
  }
  // The same paths and routes on `relay`, the leg up, data both ways on both.
  void carried_by(const wire::Endpoint& relay) {
    const auto s = path_to(*mn, "cn.e2e.test");
    const auto r = path_to(*cn, "dn.e2e.test");
    CHECK(s->id == standby.id);
    CHECK(s->route == wire::RouteType::direct);
    CHECK(s->relay == relay);
    CHECK(r->id == relayed.id);
    CHECK(r->route == wire::RouteType::relay);
    CHECK(r->relay == relay);
    CHECK(run_until(io, [&] { return standby_up(); }));
    exchange(io, *cn, *dn);
    exchange(io, *mn, *cn);
  }

  InProcessDc dc;
  std::string mn_text, cn_text, dn_text, rs1_text, rs2_text;
  std::unique_ptr<InProcessRelay> rs1, rs2;
  boost::asio::io_context io{1};
  std::unique_ptr<TestNode> mn, cn, dn;
  node::PathInfo standby, relayed;
};

}  // namespace

TEST_CASE("e2e: a relay that restarts gets its relayed paths and stand-by legs back without a move") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  TwoPathsOnRelay t(db.url(), 15, 60);
  t.make_paths();
  // The relay restarts: an empty path table, a new instance, reason start.
  t.rs1->stop();
  t.rs1->start();
  // Nothing is sent on either path meanwhile: only the DC can bring them
  // back this soon (an end's keepalive comes after 15 s, its dead-path
  // probe only after it sends).
  REQUIRE(run_until(t.io, [&] { return t.rs1->registered() && t.rs1->paths() == 2; }, 3000));
  REQUIRE(run_until(t.io, [&] { return t.redirected(); }));
  t.carried_by(t.rs1->endpoint());
  // Once: nothing directs them again afterwards.
  run_until(t.io, [] { return false; }, 1500);
  CHECK(t.redirected());
}

TEST_CASE("e2e: a relay that goes offline: its paths move to another relay without a move") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  // A relay silent for 3 s is offline.
  TwoPathsOnRelay t(db.url(), 1, 3);
  t.make_paths();
  // A second relay, started after the paths were made on the first.
  t.rs2 = std::make_unique<InProcessRelay>(t.rs2_text, "127.0.0.6");
  t.rs2->start();
  REQUIRE(run_until(t.io, [&] { return t.rs2->registered(); }));
  CHECK(t.rs2->paths() == 0);
  t.rs1->stop();
  // Offline after lifetime_s (3 s) and the expiry sweep's pass (1 s); then
  // both paths are directed onto rs2 with nothing sent on them.
  REQUIRE(run_until(t.io, [&] { return t.rs2->paths() == 2; }, 8000));
  REQUIRE(run_until(t.io, [&] { return t.redirected(); }));
  t.carried_by(t.rs2->endpoint());
}

}  // namespace ntm::test
