// SPDX-License-Identifier: MIT
// ntm-rs with translate on, as a process in a network namespace of its own
// (a thread unshares CLONE_NEWNET; processes it spawns inherit it): the TUN
// and its route come up, the nftables table replaces a stale one, and
// everything is gone after SIGTERM.  Root only; prints why it skips.
#include <doctest/doctest.h>
#include <sched.h>

#include <thread>

#include "pg_test_db.hpp"
#include "relay_test_util.hpp"
#include "rs_process.hpp"

namespace {

const char* kRelayConf =
    "[relay]\n"
    "id = 00112233445566778899aabbccddeeff\n"
    "name = relay.test.example\n"
    "key = 4242424242424242424242424242424242424242424242424242424242424242\n"
    "key_epoch = 0\n"
    "[dc]\n"
    "endpoint = 127.0.0.1:9\n";

struct Seen {
  std::string error, table_running, route, table_after, log;
  int exit_status = -1;
};

void in_namespace(Seen& s) {
  try {
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare failed");
    int st = 0;
    ntm::test::run_capture({"ip", "link", "set", "lo", "up"}, &st);
    // A stale table from a run that crashed, with a chain of its own.
    ntm::test::run_capture({"nft", "add", "table", "ip", "ntm-rs"}, &st);
    ntm::test::run_capture({"nft", "add", "chain", "ip", "ntm-rs", "stale"}, &st);
    ntm::test::RsProcess rs(kRelayConf, "listen = 127.0.0.1:4530\ntun = ntmrst0\n"
                                        "virtual_range = 100.96.0.0/12\n");
    rs.start(0);
    if (!rs.wait_log("nftables table ntm-rs installed", 10000))
      throw std::runtime_error("no translate set-up:\n" + rs.log());
    s.table_running = ntm::test::run_capture({"nft", "list", "table", "ip", "ntm-rs"}, &st);
    s.route = ntm::test::run_capture({"ip", "route", "show", "dev", "ntmrst0"}, &st);
    s.exit_status = rs.stop();
    s.table_after = ntm::test::run_capture({"nft", "list", "tables"}, &st);
    s.log = rs.log();
  } catch (const std::exception& e) {
    s.error = e.what();
  }
}

}  // namespace

TEST_CASE("ntm-rs translate set-up: TUN, route and nftables table, removed at exit") {
  if (const char* why = ntm::test::netns_unavailable()) {
    MESSAGE("skipped: " << why);
    return;
  }
  int st = 0;
  ntm::test::run_capture({"nft", "--version"}, &st);
  if (st != 0) {
    MESSAGE("skipped: nft is not installed");
    return;
  }
  Seen s;
  std::thread t(in_namespace, std::ref(s));
  t.join();
  REQUIRE_MESSAGE(s.error.empty(), s.error);
  CHECK(s.table_running.find("ip saddr 100.96.0.0/12 oifname != \"ntmrst0\" masquerade") !=
        std::string::npos);
  CHECK(s.table_running.find("oifname \"ntmrst0\" ct state established,related accept") !=
        std::string::npos);
  CHECK(s.table_running.find("stale") == std::string::npos);
  CHECK(s.route.find("100.96.0.0/12") != std::string::npos);
  CHECK(s.exit_status == 0);
  CHECK(s.table_after.find("ntm-rs") == std::string::npos);
  CHECK(s.log.find("ntm-rs: stopped") != std::string::npos);
}
