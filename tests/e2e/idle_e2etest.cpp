// SPDX-License-Identifier: MIT
// Idle paths (docs/node.md "Idle paths") end to end: a path with no data
// for path_idle_s is let go at both ends and at the DC (Path Release), and
// an application that sends to the peer's address again brings it back
// under a new path ID with the same address in its view, and the packet
// that found no tunnel delivered once it is up: from either end, on a
// direct route and through the relay.
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include "dc_in_process.hpp"
#include "e2e_support.hpp"
#include "pg_test_db.hpp"
#include "relay_in_process.hpp"

namespace ntm::test {

namespace {

constexpr const char* kZone = "e2e.test";

// The enrolled config with [ntmd] path_idle_s set.
std::string with_idle(std::string text, int seconds) {
  const std::string line = "path_idle_s = " + std::to_string(seconds) + "\n";
  if (auto at = text.find("[ntmd]\n"); at != std::string::npos)
    return text.insert(at + 7, line);
  return text + "\n[ntmd]\n" + line;
}

long path_rows(const std::string& url) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  return tx.exec1("SELECT count(*) FROM paths")[0].as<long>();
}

bool no_paths(const TestNode& n) { return n.agent.status().paths.empty(); }

// One application packet from a to b's address in a's view (the peer's
// VIP here); false when a's data path had no tunnel for it.
bool app_sends(TestNode& a, std::uint32_t to, const std::string& what) {
  return a.dp.inject(udp_packet(vip_of(a), to, 40000, 40001, what));
}

// a and b had a path and let it go; a's application sends to b again.
// The first packet finds no tunnel: it is kept while the path comes back
// with b's address unchanged, then delivered to b (not lost, so TCP does
// not wait for its retransmission timeout).
void comes_back(boost::asio::io_context& io, TestNode& a, const std::string& a_name,
                TestNode& b, const std::string& b_name, const wire::PathId& old_id,
                std::uint32_t view_of_b, const std::string& url) {
  const auto revived0 = a.agent.status().paths_revived;
  const auto first = udp_packet(vip_of(a), view_of_b, 40000, 40001, "after the idle time");
  b.dp.delivered().clear();
  CHECK_FALSE(a.dp.inject(first));
  REQUIRE(run_until(io, [&] {
    auto pa = path_to(a, b_name);
    auto pb = path_to(b, a_name);
    return pa && pa->state == node::PathState::up && pb && pb->state == node::PathState::up;
  }, 6000));
  REQUIRE(run_until(io, [&] { return !b.dp.delivered().empty(); }, 2000));
  CHECK(b.dp.delivered().front() == first);
  b.dp.delivered().clear();
  const auto p = path_to(a, b_name);
  CHECK(p->id != old_id);
  CHECK(p->peer_view == view_of_b);  // the application's address holds
  CHECK(a.agent.status().paths_revived == revived0 + 1);
  // The DC writes the path's row behind its answers (group commit): soon,
  // not necessarily before the first packet is through.
  CHECK(run_until(io, [&] { return path_rows(url) == 1; }, 2000));
  exchange(io, a, b);
}

}  // namespace

TEST_CASE("e2e: an idle direct path is let go at both ends and the DC, and comes back on demand") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = with_idle(dc.enroll_node("mn.e2e.test"), 2);
  const auto cn_text = with_idle(dc.enroll_node("cn.e2e.test"), 2);
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0");
  REQUIRE(mn.cfg.path_idle_s == 2);
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  const auto first = path_to(mn, "cn.e2e.test");
  REQUIRE(first);

  // Data keeps it: 4 s of a packet every 500 ms (twice the idle time).
  for (int i = 0; i < 8; ++i) {
    exchange(io, mn, cn);
    run_until(io, [] { return false; }, 500);
  }
  REQUIRE(path_to(mn, "cn.e2e.test"));
  CHECK(path_to(mn, "cn.e2e.test")->id == first->id);
  CHECK(mn.agent.status().paths_released == 0);

  // No data: both ends let it go within a few seconds (keepalives do not
  // count), and so does the DC; nothing brings it back.
  REQUIRE(run_until(io, [&] { return no_paths(mn) && no_paths(cn); }, 6000));
  CHECK(mn.agent.status().paths_released == 1);
  CHECK(cn.agent.status().paths_released == 1);
  REQUIRE(run_until(io, [&] { return path_rows(db.url()) == 0; }, 3000));
  run_until(io, [] { return false; }, 3000);
  CHECK(no_paths(mn));
  CHECK(no_paths(cn));
  CHECK(path_rows(db.url()) == 0);

  // MN's application sends again.
  comes_back(io, mn, "mn.e2e.test", cn, "cn.e2e.test", first->id, vip_of(cn), db.url());
  const auto second = path_to(mn, "cn.e2e.test");
  REQUIRE(second);

  // Idle again; this time CN's application (the old responder) sends first.
  REQUIRE(run_until(io, [&] { return no_paths(mn) && no_paths(cn); }, 6000));
  REQUIRE(run_until(io, [&] { return path_rows(db.url()) == 0; }, 3000));
  comes_back(io, cn, "cn.e2e.test", mn, "mn.e2e.test", second->id, vip_of(mn), db.url());
  // Now CN is the path's initiator.
  CHECK(path_to(cn, "mn.e2e.test")->end == wire::PathEnd::initiator);

  // A packet to an address that was never a peer starts nothing.
  const auto paths_before = mn.agent.status().paths.size();
  const auto revived_before = mn.agent.status().paths_revived;
  CHECK_FALSE(app_sends(mn, vip_of(cn) + 77, "nobody"));
  run_until(io, [] { return false; }, 500);
  CHECK(mn.agent.status().paths.size() == paths_before);
  CHECK(mn.agent.status().paths_revived == revived_before);
  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: an end that would keep the path is told by the DC and lets it go too") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  // MN lets go after 2 s; CN never would on its own (path_idle_s = 0).
  const auto mn_text = with_idle(dc.enroll_node("mn.e2e.test"), 2);
  const auto cn_text = with_idle(dc.enroll_node("cn.e2e.test"), 0);
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0");
  REQUIRE(cn.cfg.path_idle_s == 0);
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
  REQUIRE(resolve(io, mn, "cn.e2e.test"));
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  const auto first = path_to(mn, "cn.e2e.test");
  REQUIRE(first);
  exchange(io, mn, cn);
  // MN lets go; the DC tells CN, which lets go at once.
  REQUIRE(run_until(io, [&] { return no_paths(mn) && no_paths(cn); }, 6000));
  CHECK(cn.agent.status().paths_released == 1);
  REQUIRE(run_until(io, [&] { return path_rows(db.url()) == 0; }, 3000));
  // CN's application sends first: a new direction at once, not the dead
  // path's probe seconds later (kDeadPathMs is 3 s).
  const auto t0 = std::chrono::steady_clock::now();
  comes_back(io, cn, "cn.e2e.test", mn, "mn.e2e.test", first->id, vip_of(mn), db.url());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2500));
  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: an idle relayed path is let go and comes back through the relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = with_idle(dc.enroll_node("mn.e2e.test"), 2);
  const auto cn_text = with_idle(dc.enroll_node("cn.e2e.test"), 2);
  const auto rs_text = dc.enroll_relay("rs1");
  dc.start();
  InProcessRelay rs(rs_text, "127.0.0.4");
  rs.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0", {endpoint("10.1.0.2:4520")}),
      cn(io, cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn) && rs.registered(); }));
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  const auto first = path_to(mn, "cn.e2e.test");
  REQUIRE(first);
  CHECK(first->route == wire::RouteType::relay);
  exchange(io, mn, cn);

  REQUIRE(run_until(io, [&] { return no_paths(mn) && no_paths(cn); }, 6000));
  REQUIRE(run_until(io, [&] { return path_rows(db.url()) == 0; }, 3000));
  comes_back(io, mn, "mn.e2e.test", cn, "cn.e2e.test", first->id, vip_of(cn), db.url());
  const auto again = path_to(mn, "cn.e2e.test");
  CHECK(again->route == wire::RouteType::relay);
  CHECK(again->relay == rs.endpoint());
  mn.agent.stop();
  cn.agent.stop();
  rs.stop();
  dc.stop();
}

}  // namespace ntm::test
