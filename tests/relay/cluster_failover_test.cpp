// SPDX-License-Identifier: MIT
// ntm-rs in a DC cluster: two real ntm-dc processes on one database, ntm-rs
// enrolled at one of them.  When that member is killed, ntm-rs registers
// with the other within its failover bound, so the survivor keeps the
// relay online past the registration lifetime and goes on directing
// relayed paths through it (docs/operations.md "Failover").
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"
#include "relay_fixture.hpp"
#include "rs_process.hpp"

using namespace ntm;
using namespace ntm::test;

TEST_CASE("cluster: SIGKILL of the relay's member: ntm-rs registers with the other, which keeps "
          "directing relayed paths past the lifetime") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o(db.url());
  o.dc_id = "0123456789abcdef0123456789abcdef";
  o.keepalive_s = 1;  // ntm-rs notices a dead member within keepalive_s + 3 s
  // Longer than that bound (as 60 s is longer than 15 + 3 s by default), so
  // the relay never goes offline; shorter than the wait below.
  o.lifetime_s = 6;
  DcProcess a(o), b(o);
  a.set_cluster({a.endpoint(), b.endpoint()});
  b.set_cluster({a.endpoint(), b.endpoint()});
  a.start();
  b.start();
  int st = 0;
  const std::string relay_conf = a.cli({"relay", "add", "relay.test.example", "-o", "-"}, &st);
  REQUIRE(st == 0);
  // The file names every member, so ntm-rs can fail over.
  CHECK(relay_conf.find("endpoints = " + a.endpoint().to_string() + ", " +
                        b.endpoint().to_string()) != std::string::npos);
  const auto mc = b.enroll("mn.test.example");
  const auto cc = b.enroll("cn.test.example");
  const auto relay = ep("127.0.0.1", static_cast<std::uint16_t>(free_udp_port()));
  RsProcess rs(relay_conf, "listen = " + relay.to_string() + "\ntranslate = off\n");
  rs.start();
  REQUIRE(rs.wait_log("registered at " + a.endpoint().to_string(), 5000));
  REQUIRE(b.wait_log("cluster: relay.test.example registered", 3000));
  auto status = nlohmann::json::parse(rs.status(true));
  CHECK(status["dc"] == a.endpoint().to_string());
  CHECK(status["dc_failovers"] == 0);

  const auto from = rs.log().size();
  a.kill9();
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(rs.wait_log("registered at " + b.endpoint().to_string(),
                      static_cast<int>(o.keepalive_s * 1000 + relay::kDcFailoverMs + 3000), from));
  const double failover_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("SIGKILL of ntm-rs's member to ntm-rs registered at the other: " << failover_ms
                                                                          << " ms");
  CHECK(rs.log().find("left a message unanswered", from) != std::string::npos);
  status = nlohmann::json::parse(rs.status(true));
  CHECK(status["dc"] == b.endpoint().to_string());
  CHECK(status["dc_failovers"] == 1);

  // Past the lifetime since the relay last spoke to A: had it stayed with
  // A, B would have taken it offline by now and have no relay to offer.
  std::this_thread::sleep_until(t0 + std::chrono::milliseconds(o.lifetime_s * 1000 + 1500));
  NodeClient mn(mc, b.endpoint(), ep("127.0.0.2", 0)), cn(cc, b.endpoint(), ep("127.0.0.3", 0));
  const auto nd = direct_nated(mn, cn, "cn.test.example");
  CHECK(nd.to_mn.route == wire::RouteType::relay);
  CHECK(nd.to_mn.relay == relay);
  CHECK(b.log().find("relay.test.example silent") == std::string::npos);
  CHECK(rs.stop() == 0);
  CHECK(rs.log().find("failovers 1") != std::string::npos);
  CHECK(b.stop() == 0);
}
