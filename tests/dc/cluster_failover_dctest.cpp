// SPDX-License-Identifier: MIT
// DC cluster failover with ntmd's real control plane (Agent over the
// in-memory data path) against two real ntm-dc processes on one database:
// nodes homed at different members reach each other; after SIGKILL of one
// member its node registers with the other within the bound, a Direction
// Request left in flight at the dead member is answered by the survivor,
// and no acknowledged registration is lost.
#include <doctest/doctest.h>

#include <chrono>

#include "dc_helpers.hpp"
#include "e2e_support.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;

TEST_CASE("cluster: SIGKILL of a member: its node fails over within the bound, directions go on") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o(db.url());
  o.dc_id = "0123456789abcdef0123456789abcdef";
  o.zones = "e2e.test";
  o.keepalive_s = 1;  // an idle node notices a dead member within keepalive_s + 3 s
  o.lifetime_s = 10;
  DcProcess a(o), b(o);
  a.set_cluster({a.endpoint(), b.endpoint()});
  b.set_cluster({a.endpoint(), b.endpoint()});
  a.start();
  b.start();
  int st = 0;
  const auto mn_text = a.cli({"node", "add", "mn.e2e.test", "-o", "-"}, &st);
  REQUIRE(st == 0);
  const auto cn_text = b.cli({"node", "add", "cn.e2e.test", "-o", "-"}, &st);
  REQUIRE(st == 0);
  const auto cn2_text = b.cli({"node", "add", "cn2.e2e.test", "-o", "-"}, &st);
  REQUIRE(st == 0);

  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0", {}, 8000), cn(io, cn_text, "127.0.0.3:0", {}, 8000),
      cn2(io, cn2_text, "127.0.0.4:0", {}, 8000);
  // Each starts at the member that enrolled it; both members are known.
  CHECK(mn.cfg.dc_members == std::vector<wire::Endpoint>{a.endpoint(), b.endpoint()});
  CHECK(cn.cfg.dc_members == std::vector<wire::Endpoint>{b.endpoint(), a.endpoint()});
  mn.agent.start();
  cn.agent.start();
  cn2.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn) && registered(cn2); }));
  CHECK(mn.agent.status().dc == a.endpoint());
  CHECK(cn.agent.status().dc == b.endpoint());
  const std::uint32_t mn_vip = vip_of(mn);
  // A directs CN once B's commit has reached A's view (the propagation
  // bound; before it, A would answer that CN is offline).
  REQUIRE(a.wait_log("cluster: cn.e2e.test registered", 3000));

  // Across members: MN asks A, A directs CN (homed at B) through CN's
  // binding towards A, and CN's ack goes back to A.
  auto r = resolve(io, mn, "cn.e2e.test", 8000);
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  exchange(io, mn, cn);

  // A dies.  At once MN needs a new path: its Direction Request goes to the
  // dead member, MN fails over to B and asks B again.
  a.kill9();
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<node::Resolution> r2;
  mn.agent.resolve("cn2.e2e.test", [&r2](const node::Resolution& x) { r2 = x; });
  REQUIRE(run_until(
      io, [&] { return mn.agent.status().dc == b.endpoint() && registered(mn); }, 8000));
  const double failover_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(run_until(io, [&] { return r2.has_value(); }, 8000));
  const double direction_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("SIGKILL of MN's member to MN registered at the other: " << failover_ms
                                                                   << " ms; to the in-flight "
                                                                      "direction answered: "
                                                                   << direction_ms << " ms");
  CHECK(failover_ms < 5000.0);  // the documented bound: keepalive_s + 3 s, plus a tick
  REQUIRE(r2->kind == node::Resolution::Kind::address);
  CHECK(r2->vip == vip_of(cn2));
  CHECK(mn.agent.status().dc_failovers == 1);
  // The same VIP: the registration at B found the node's row as A left it.
  CHECK(vip_of(mn) == mn_vip);
  exchange(io, mn, cn2);
  // The path made through the dead member still carries traffic.
  exchange(io, mn, cn);
  // CN, homed at the survivor, never moved.
  CHECK(cn.agent.status().dc_failovers == 0);
  // What B answered is in the database.
  CHECK(query1(db.url(), "SELECT observed_port FROM nodes WHERE fqdn = 'mn.e2e.test'") ==
        std::to_string(mn.dp.local().port));

  mn.agent.stop();
  cn.agent.stop();
  cn2.agent.stop();
  CHECK(b.stop() == 0);
}
