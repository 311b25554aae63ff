// SPDX-License-Identifier: MIT
// An ntmd that restarts holds no path, while its peers and the relay still
// hold theirs.  The DC directs the restarted node's paths again on its
// first registration (reason `start`, docs/dc.md §8.4 "A node that
// restarts"): the same path IDs and VIPs under the next key epoch, at both
// ends, without waiting for a peer to find its path dead (which would count
// as a failed route and put a direct path on the relay).
#include <doctest/doctest.h>

#include <memory>

#include "dc_in_process.hpp"
#include "e2e_support.hpp"
#include "pg_test_db.hpp"
#include "relay_in_process.hpp"

namespace ntm::test {

namespace {

constexpr const char* kZone = "e2e.test";

// mn global; cn and dn behind two different NATs (they claim private
// addresses the DC does not see them at); one relay.  mn -> cn is direct
// (cn sends first) with a stand-by leg at the relay, cn -> dn is relayed.
struct ThreeNodes {
  ThreeNodes()
      : dc(db.url(), kZone),
        mn_text(dc.enroll_node("mn.e2e.test")),
        cn_text(dc.enroll_node("cn.e2e.test")),
        dn_text(dc.enroll_node("dn.e2e.test")),
        rs_text(dc.enroll_relay("rs1")) {
    dc.start();
    rs = std::make_unique<InProcessRelay>(rs_text, "127.0.0.4");
    rs->start();
    mn = std::make_unique<TestNode>(io, mn_text, "127.0.0.2:0");
    cn = std::make_unique<TestNode>(io, cn_text, "127.0.0.3:0", cn_local());
    dn = std::make_unique<TestNode>(io, dn_text, "127.0.0.5:0", dn_local());
    mn->agent.start();
    cn->agent.start();
    dn->agent.start();
  }
  ~ThreeNodes() {
    mn->agent.stop();
    cn->agent.stop();
    dn->agent.stop();
    rs->stop();
    dc.stop();
  }
  void make_paths() {
    REQUIRE(run_until(io, [&] {
      return registered(*mn) && registered(*cn) && registered(*dn) && rs->registered();
    }));
    REQUIRE(resolve(io, *mn, "cn.e2e.test"));
    REQUIRE(path_up(io, *cn, "mn.e2e.test"));
    REQUIRE(resolve(io, *cn, "dn.e2e.test"));
    REQUIRE(path_up(io, *dn, "cn.e2e.test"));
    direct = *path_to(*mn, "cn.e2e.test");
    relayed = *path_to(*cn, "dn.e2e.test");
    REQUIRE(direct.route == wire::RouteType::direct);
    REQUIRE(relayed.route == wire::RouteType::relay);
    exchange(io, *mn, *cn);
    exchange(io, *cn, *dn);
  }
  // The node's ntmd stops and a new process starts with the same
  // configuration on the same address and port: no move, only a restart.
  static void restart(boost::asio::io_context& io, std::unique_ptr<TestNode>& n,
                      const std::string& text, const std::vector<wire::Endpoint>& local) {
    const std::string at = n->dp.local().to_string();
    n->agent.stop();
    n.reset();
    n = std::make_unique<TestNode>(io, text, at.c_str(), local);
    n->agent.start();
  }
  // a's and b's paths to each other: the same ID as `was`, one key epoch
  // at both ends, at least `epochs` after was's, up at both ends.
  static bool back(const TestNode& a, const TestNode& b, const node::PathInfo& was,
                   int epochs = 1) {
    const auto x = path_to(a, b.cfg.fqdn.name);
    const auto y = path_to(b, a.cfg.fqdn.name);
    return x && y && x->id == was.id && y->id == was.id &&
           static_cast<std::int8_t>(x->key_epoch - was.key_epoch) >= epochs &&
           y->key_epoch == x->key_epoch && x->state == node::PathState::up &&
           y->state == node::PathState::up;
  }

  // The private addresses they claim (functions: endpoint() checks with
  // doctest, which is not there during static initialisation).
  static std::vector<wire::Endpoint> cn_local() { return {endpoint("10.9.0.2:4520")}; }
  static std::vector<wire::Endpoint> dn_local() { return {endpoint("10.8.0.2:4520")}; }
  TestDatabase db;
  InProcessDc dc;
  std::string mn_text, cn_text, dn_text, rs_text;
  std::unique_ptr<InProcessRelay> rs;
  boost::asio::io_context io{1};
  std::unique_ptr<TestNode> mn, cn, dn;
  node::PathInfo direct, relayed;
};

}  // namespace

TEST_CASE("e2e: ntmd restarted in place gets its paths back at once, as responder and as initiator") {
  NTM_REQUIRE_PG_OR_SKIP();
  ThreeNodes t;
  t.make_paths();
  // cn is the responder of mn's direct path and the initiator of its own
  // relayed path to dn.
  ThreeNodes::restart(t.io, t.cn, t.cn_text, ThreeNodes::cn_local());
  // Nothing is sent on either path: only the DC brings them back this soon
  // (a peer's dead-path probe starts only once it sends).
  REQUIRE(run_until(t.io, [&] {
    return ThreeNodes::back(*t.mn, *t.cn, t.direct) && ThreeNodes::back(*t.cn, *t.dn, t.relayed);
  }, 3000));
  const auto d = *path_to(*t.mn, "cn.e2e.test");
  const auto r = *path_to(*t.cn, "dn.e2e.test");
  // The routes stay: nothing moved, nothing failed.
  CHECK(d.route == wire::RouteType::direct);
  CHECK(r.route == wire::RouteType::relay);
  CHECK(r.relay == t.rs->endpoint());
  CHECK(d.peer.vip.addr == t.direct.peer.vip.addr);  // cn kept its VIP
  exchange(t.io, *t.mn, *t.cn);
  exchange(t.io, *t.cn, *t.dn);
  // Once per process: its registration's retransmissions and refreshes
  // direct nothing again.
  run_until(t.io, [] { return false; }, 1500);
  CHECK(path_to(*t.mn, "cn.e2e.test")->key_epoch == d.key_epoch);
  CHECK(path_to(*t.cn, "dn.e2e.test")->key_epoch == r.key_epoch);
}

TEST_CASE("e2e: both ends of a path restart one after the other and hold the same path again") {
  // The path between them is directed again for each restart (once, when
  // the second restart comes before the first's direction has begun);
  // whichever process holds which epoch in between, they end on one.
  NTM_REQUIRE_PG_OR_SKIP();
  ThreeNodes t;
  t.make_paths();
  ThreeNodes::restart(t.io, t.mn, t.mn_text, {});
  REQUIRE(run_until(t.io, [&] { return registered(*t.mn); }));
  ThreeNodes::restart(t.io, t.cn, t.cn_text, ThreeNodes::cn_local());
  REQUIRE(run_until(t.io, [&] {
    return ThreeNodes::back(*t.mn, *t.cn, t.direct) && ThreeNodes::back(*t.cn, *t.dn, t.relayed);
  }, 4000));
  CHECK(path_to(*t.mn, "cn.e2e.test")->route == wire::RouteType::direct);
  exchange(t.io, *t.mn, *t.cn);
  exchange(t.io, *t.cn, *t.dn);
}

}  // namespace ntm::test
