// SPDX-License-Identifier: MIT
// What survives: restarts, kill -9 under load, and the embedded database.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>
#include <unistd.h>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;

TEST_CASE("kill -9 under load loses no acknowledged registration") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  constexpr int kNodes = 40;
  std::vector<Credentials> creds;
  for (int i = 0; i < kNodes; ++i) creds.push_back(dc.enroll("n" + std::to_string(i) + ".test.example"));
  dc.start();

  // Each node keeps moving (a new source port each time) and registering.
  // For each node: the ports it registered from, in order, and how many of
  // them the DC acknowledged.
  struct Track {
    std::vector<std::uint16_t> ports;
    std::size_t acked = 0;
  };
  std::vector<Track> track(kNodes);
  std::atomic<bool> stop{false};
  std::atomic<int> acks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<NodeClient>> mine;
      for (int i = t; i < kNodes; i += 4)
        mine.push_back(std::make_unique<NodeClient>(creds[static_cast<std::size_t>(i)], dc.endpoint()));
      while (!stop) {
        for (std::size_t k = 0; k < mine.size() && !stop; ++k) {
          const int i = t + 4 * static_cast<int>(k);
          mine[k]->move();
          track[static_cast<std::size_t>(i)].ports.push_back(mine[k]->local().port);
          if (mine[k]->register_at().has_value()) {
            track[static_cast<std::size_t>(i)].acked = track[static_cast<std::size_t>(i)].ports.size();
            acks++;
          }
        }
      }
    });
  while (acks < 200) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  dc.kill9();
  stop = true;
  for (auto& th : threads) th.join();
  MESSAGE("acknowledged registrations before kill -9: " << acks.load());

  pqxx::connection c(db.url());
  pqxx::work tx(c);
  for (int i = 0; i < kNodes; ++i) {
    const auto& tr = track[static_cast<std::size_t>(i)];
    if (tr.acked == 0) continue;
    auto r = tx.exec_params("SELECT observed_port FROM nodes WHERE fqdn = $1",
                            "n" + std::to_string(i) + ".test.example");
    REQUIRE(r.size() == 1);
    REQUIRE_FALSE(r[0][0].is_null());
    const auto port = static_cast<std::uint16_t>(r[0][0].as<int>());
    // The stored location is the last acknowledged one or a later attempt.
    std::size_t index = 0;
    for (std::size_t k = 0; k < tr.ports.size(); ++k)
      if (tr.ports[k] == port) index = k + 1;
    CAPTURE(i);
    CHECK(index >= tr.acked);
  }
}

TEST_CASE("a DC restart keeps paths and SIGTERM stops cleanly") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(dc.wait_log("established", 3000));
  CHECK(dc.stop() == 0);
  // SIGTERM drains: the writer reports what it committed before exiting.
  CHECK(dc.log().find("store: ") != std::string::npos);
  const std::size_t mark = dc.log().size();
  dc.start();
  CHECK(dc.wait_log("1 paths loaded", 100, mark));
  // The restarted DC still knows the path belongs to mn.
  NodeClient other(dc.enroll("x.test.example"), dc.endpoint());
  REQUIRE(dc.wait_log("x.test.example", 5000, mark));
  REQUIRE(other.register_at());
  auto r = other.request(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, true});
  REQUIRE(r);
  auto* err = std::get_if<wire::ErrorReply>(&r->body);
  REQUIRE(err);
  CHECK(err->code == wire::ErrorCode::not_authorized);
}

TEST_CASE("with no database configured the DC runs its own PostgreSQL") {
  NTM_REQUIRE_PG_OR_SKIP();  // same tier: needs the PostgreSQL server binaries
  DcProcess dc{std::string()};
  const auto a = dc.enroll("a.test.example");  // the CLI starts and stops the cluster itself
  dc.start();
  CHECK(dc.log().find("embedded PostgreSQL") != std::string::npos);
  NodeClient node(a, dc.endpoint());
  auto r = node.register_at();
  REQUIRE(r);
  // While the DC runs, enrollment uses the DC's cluster.
  const auto b = dc.enroll("b.test.example");
  REQUIRE(dc.wait_log("b.test.example", 5000));
  NodeClient nb(b, dc.endpoint());
  REQUIRE(nb.register_at());
  CHECK(dc.stop() == 0);
  dc.start();
  auto r2 = node.register_at();
  REQUIRE(r2);
  CHECK(r2->vip == r->vip);
  CHECK(dc.stop() == 0);
}

TEST_CASE("commands run at once on the embedded default share its cluster, the last one stops it") {
  NTM_REQUIRE_PG_OR_SKIP();  // same tier: needs the PostgreSQL server binaries
  DcProcess dc{std::string()};
  dc.enroll("first.test.example");  // initdb, outside the race
  // No DC serves: the first command starts a temporary cluster, the others
  // find it running and use it.  The one that started it must not stop it
  // under them.
  constexpr int kCommands = 6;
  std::vector<int> status(kCommands, -1);
  std::vector<std::string> out(kCommands);
  std::vector<std::thread> ts;
  for (int i = 0; i < kCommands; ++i)
    ts.emplace_back([&, i] {
      // Staggered, so that some arrive while a temporary cluster is up.
      std::this_thread::sleep_for(std::chrono::milliseconds(150 * i));
      out[i] = dc.cli({"node", "add", "n" + std::to_string(i) + ".test.example", "-o", "-"},
                      &status[i]);
    });
  for (auto& t : ts) t.join();
  for (int i = 0; i < kCommands; ++i) CHECK_MESSAGE(status[i] == 0, "command " << i << ": " << out[i]);
  int st = -1;
  const std::string list = dc.cli({"node", "list"}, &st);
  CHECK(st == 0);
  for (int i = 0; i < kCommands; ++i)
    CHECK_MESSAGE(list.find("n" + std::to_string(i) + ".test.example") != std::string::npos, list);
  // Nothing is left running: the last user stopped the cluster.
  CHECK_FALSE(std::filesystem::exists(dc.state_dir() / "postgres" / "data" / "postmaster.pid"));
  // And a DC starts on it.
  dc.start();
  CHECK(dc.stop() == 0);
}

namespace {

// pg_ctl on the DC's embedded cluster, behind the DC's back.
int pg_ctl(const std::filesystem::path& data, const std::string& action) {
  std::filesystem::path bin;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql"))
    if (bin.empty() || e.path() > bin.parent_path()) bin = e.path() / "bin";
  std::vector<std::string> argv{"/usr/sbin/runuser", "-u", "postgres", "--",
                                (bin / "pg_ctl").string(), "-D", data.string(), "-w",
                                "-l", (data.parent_path() / "pg-by-test.log").string()};
  if (action == "stop") argv.insert(argv.end(), {"-m", "immediate"});
  argv.push_back(action);
  int st = 0;
  run_capture(argv, &st);
  return st;
}

}  // namespace

TEST_CASE("the database going away gives a clear error and the DC recovers when it returns") {
  NTM_REQUIRE_PG_OR_SKIP();
  if (geteuid() != 0) {
    MESSAGE("skipped: stopping the embedded cluster by hand needs root (runuser)");
    return;
  }
  DcProcess dc{std::string()};
  const auto a = dc.enroll("a.test.example");
  const auto b = dc.enroll("b.test.example");
  dc.start();
  NodeClient na(a, dc.endpoint()), nb(b, dc.endpoint());
  REQUIRE(na.register_at());
  REQUIRE(nb.register_at());
  const auto data = dc.state_dir() / "postgres" / "data";
  REQUIRE(pg_ctl(data, "stop") == 0);

  // A registration cannot be committed: the node is told, the DC lives on.
  auto r = na.request(wire::RegistrationRequest{wire::PartyKind::node,
                                                wire::RegistrationReason::refresh,
                                                wire::Fqdn{"a.test.example"}, {na.local()}},
                      5000);
  REQUIRE(r);
  auto* err = std::get_if<wire::ErrorReply>(&r->body);
  REQUIRE(err);
  CHECK(err->code == wire::ErrorCode::internal);
  CHECK(err->reason.value.find("database") != std::string::npos);
  // What needs no write is still served from memory: a keepalive.
  auto k = nb.request(wire::Keepalive{});
  REQUIRE(k);
  CHECK(std::holds_alternative<wire::KeepaliveAck>(k->body));
  CHECK(dc.running());

  REQUIRE(pg_ctl(data, "start") == 0);
  std::optional<wire::RegistrationResponse> ok;
  for (int i = 0; i < 20 && !ok; ++i) {
    ok = na.register_at();
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(ok);
  CHECK(dc.stop() == 0);
}
