// SPDX-License-Identifier: MIT
// Enrollment, registration, NAT detection, keepalive, expiry, revocation and
// the refusal of everything a node may not do.
#include <doctest/doctest.h>

#include <pqxx/pqxx>
#include <atomic>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;

TEST_CASE("registration: VIP and observed address and NAT verdict committed before the answer") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  dc.start();
  const auto creds = dc.enroll("laptop.test.example");
  NodeClient node(creds, dc.endpoint());

  // Reporting its real socket address: not behind NAT.
  auto r = node.register_at();
  REQUIRE(r);
  CHECK_FALSE(r->behind_nat);
  CHECK(r->observed == node.local());
  CHECK((r->vip.addr & 0xffff0000u) == 0x64400000u);  // from 100.64.0.0/16
  CHECK(r->vip_prefix_len == 10);
  CHECK(r->keepalive_s == 15);
  // The answer left after the commit: the database already has it.
  CHECK(query1(db.url(), "SELECT online FROM nodes WHERE fqdn = 'laptop.test.example'") == "t");
  CHECK(query1(db.url(), "SELECT observed_port FROM nodes WHERE fqdn = 'laptop.test.example'") ==
        std::to_string(node.local().port));

  // Reporting a private address that differs from the source: behind NAT.
  auto r2 = node.register_at({ep("192.168.1.2", 4512)});
  REQUIRE(r2);
  CHECK(r2->behind_nat);
  CHECK(r2->vip == r->vip);
  CHECK(query1(db.url(), "SELECT behind_nat FROM nodes WHERE fqdn = 'laptop.test.example'") == "t");

  // A move (new source port): same VIP, new observed address.
  node.move();
  auto r3 = node.register_at();
  REQUIRE(r3);
  CHECK(r3->vip == r->vip);
  CHECK(r3->observed == node.local());
  CHECK_FALSE(r3->behind_nat);
  CHECK(dc.stop() == 0);
}

TEST_CASE("registration: VIPs are unique and stable across a DC restart") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  std::vector<Credentials> creds;
  for (int i = 0; i < 5; ++i) creds.push_back(dc.enroll("n" + std::to_string(i) + ".test.example"));
  dc.start();
  std::set<std::uint32_t> vips;
  std::vector<std::uint32_t> before;
  for (const auto& c : creds) {
    NodeClient n(c, dc.endpoint());
    auto r = n.register_at();
    REQUIRE(r);
    vips.insert(r->vip.addr);
    before.push_back(r->vip.addr);
  }
  CHECK(vips.size() == creds.size());
  CHECK(dc.stop() == 0);
  dc.start();
  for (std::size_t i = 0; i < creds.size(); ++i) {
    NodeClient n(creds[i], dc.endpoint());
    auto r = n.register_at();
    REQUIRE(r);
    CHECK(r->vip.addr == before[i]);
  }
}

TEST_CASE("enrollment: names are validated and must lie in a served zone") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  int st = 0;
  dc.cli({"node", "add", "host.other.example", "-o", "-"}, &st);
  CHECK(st == 1);
  dc.cli({"node", "add", "bad_name.test.example", "-o", "-"}, &st);
  CHECK(st == 1);
  dc.cli({"node", "add", std::string(64, 'a') + ".test.example", "-o", "-"}, &st);
  CHECK(st == 1);
  const auto c = dc.enroll("Mixed.Case.TEST.example.");
  CHECK(c.name == "mixed.case.test.example");
  dc.cli({"node", "add", "mixed.case.test.example", "-o", "-"}, &st);
  CHECK(st == 1);  // already enrolled
  const std::string list = dc.cli({"node", "list"}, &st);
  CHECK(st == 0);
  CHECK(list.find("mixed.case.test.example") != std::string::npos);
  const std::string show = dc.cli({"node", "show", "mixed.case.test.example"}, &st);
  CHECK(st == 0);
  CHECK(show.find(c.id.to_hex()) != std::string::npos);
  CHECK(show.find(c.key.to_hex()) == std::string::npos);  // the key is never shown
  // A config file that cannot be written: no node is left without its key.
  dc.cli({"node", "add", "nofile.test.example", "-o", "/proc/ntm-cannot-write"}, &st);
  CHECK(st != 0);
  CHECK(dc.cli({"node", "list"}).find("nofile.test.example") == std::string::npos);
  // The config file a node gets when no -o is given: mode 0600.
  dc.cli({"node", "add", "file.test.example"}, &st);
  CHECK(st == 0);
  const auto file = dc.state_dir() / "nodes" / "file.test.example.conf";
  REQUIRE(std::filesystem::exists(file));
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) ==
        std::filesystem::perms::none);
}

TEST_CASE("a node can neither register nor direct as another node") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto a = dc.enroll("a.test.example");
  const auto b = dc.enroll("b.test.example");
  dc.start();
  // a's key with b's name: refused with an error, nothing changes for b.
  NodeClient node_a(a, dc.endpoint());
  auto r = node_a.request(wire::RegistrationRequest{wire::PartyKind::node,
                                                    wire::RegistrationReason::start,
                                                    wire::Fqdn{"b.test.example"},
                                                    {node_a.local()}});
  REQUIRE(r);
  auto* err = std::get_if<wire::ErrorReply>(&r->body);
  REQUIRE(err);
  CHECK(err->code == wire::ErrorCode::not_authorized);
  CHECK(query1(db.url(), "SELECT online FROM nodes WHERE fqdn = 'b.test.example'") == "f");

  // b's ID with a's key: does not authenticate, and gets no answer at all.
  Credentials forged = b;
  forged.key = a.key;
  NodeClient mallory(forged, dc.endpoint());
  CHECK_FALSE(mallory.register_at());
  CHECK(dc.stop() == 0);
  // Every attempt (the client retransmits) was counted as a failed authentication.
  const std::string log = dc.log();
  CHECK(log.find("auth_failed=") != std::string::npos);
  CHECK(log.find("auth_failed=0 ") == std::string::npos);
}

TEST_CASE("replayed or malformed or unauthenticated datagrams are dropped unanswered") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto a = dc.enroll("a.test.example");
  dc.start();
  NodeClient node(a, dc.endpoint());
  REQUIRE(node.register_at());
  const auto replay = node.last_datagram();
  node.send_raw(replay);  // the same registration again
  CHECK_FALSE(node.receive(500));
  auto flipped = replay;
  flipped[flipped.size() - 1] ^= 1;
  node.send_raw(flipped);
  node.send_raw({1, 2, 3});
  node.send_raw(std::vector<std::uint8_t>(1300, 0x01));
  // Well-formed, but under a key the DC does not hold.
  Credentials stranger = a;
  wire::random_bytes(stranger.id.bytes);
  NodeClient s(stranger, dc.endpoint());
  s.send(wire::Keepalive{});
  // A Capsulated Packet is never for the DC; a version-2 header is unknown.
  std::vector<std::uint8_t> capsule(64, 0);
  capsule[0] = NTM_VERSION;
  capsule[1] = NTM_T_CAPSULATED_PACKET;
  capsule[2] = NTM_DOMAIN_PATH;
  node.send_raw(capsule);
  auto v2 = replay;
  v2[0] = 2;
  node.send_raw(v2);
  CHECK_FALSE(node.receive(500));
  // Still alive and serving.
  REQUIRE(node.register_at());
  CHECK(dc.stop() == 0);
  const std::string log = dc.log();
  // The flipped copy carries the replayed counter: it is refused as a replay
  // before any decryption is spent on it.
  CHECK(log.find("replayed=2") != std::string::npos);
  CHECK(log.find("dropped 1 x truncated") != std::string::npos);
  CHECK(log.find("dropped 1 x unknown_key") != std::string::npos);
  CHECK(log.find("dropped 1 x bad_type") != std::string::npos);
  CHECK(log.find("dropped 1 x bad_version") != std::string::npos);
  CHECK(log.find("oversized=1") != std::string::npos);
}

TEST_CASE("keepalive refreshes liveness and silence past the lifetime marks a node offline") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o{db.url()};
  o.keepalive_s = 1;
  o.lifetime_s = 2;
  DcProcess dc(o);
  const auto a = dc.enroll("a.test.example");
  dc.start();
  NodeClient node(a, dc.endpoint());
  // Before registering, a keepalive is answered with "register again".
  auto k0 = node.request(wire::Keepalive{});
  REQUIRE(k0);
  REQUIRE(std::holds_alternative<wire::KeepaliveAck>(k0->body));
  CHECK(std::get<wire::KeepaliveAck>(k0->body).reregister);
  REQUIRE(node.register_at());
  for (int i = 0; i < 4; ++i) {
    auto k = node.request(wire::Keepalive{});
    REQUIRE(k);
    auto& ack = std::get<wire::KeepaliveAck>(k->body);
    CHECK_FALSE(ack.reregister);
    CHECK(ack.observed == node.local());
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
  CHECK(query1(db.url(), "SELECT online FROM nodes WHERE fqdn = 'a.test.example'") == "t");
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  CHECK(query1(db.url(), "SELECT online FROM nodes WHERE fqdn = 'a.test.example'") == "f");
  auto k = node.request(wire::Keepalive{});
  REQUIRE(k);
  CHECK(std::get<wire::KeepaliveAck>(k->body).reregister);
}

TEST_CASE("revocation takes effect at once") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto a = dc.enroll("a.test.example");
  dc.start();
  NodeClient node(a, dc.endpoint());
  REQUIRE(node.register_at());
  int st = 0;
  dc.cli({"node", "remove", "a.test.example"}, &st);
  REQUIRE(st == 0);
  REQUIRE(dc.wait_log("removed", 5000));
  CHECK_FALSE(node.register_at());
  CHECK(query1(db.url(), "SELECT count(*) FROM nodes") == "0");
  // A node enrolled while the DC runs is served at once too.
  const auto b = dc.enroll("b.test.example");
  REQUIRE(dc.wait_log("b.test.example", 5000));
  NodeClient nb(b, dc.endpoint());
  CHECK(nb.register_at());
}

namespace {

// CN directs a new path to `to` (enrolled as fqdn); both accept their
// Route Direction.  True if both opened the same K_path: the DC sealed it
// to each under the key that end holds.
bool one_path_key(NodeClient& cn, NodeClient& to, const std::string& fqdn) {
  const wire::PathId path = random_path();
  cn.send(wire::DirectionRequest{path, wire::Fqdn{fqdn}, false});
  const auto to_end = accept_direction(to);
  const auto to_cn = accept_direction(cn);
  if (!to_end || !to_cn) return false;
  return to.open_key(to_end->path_key, path, to_end->key_epoch, wire::SealedKind::path_key)
      .equals(cn.open_key(to_cn->path_key, path, to_cn->key_epoch, wire::SealedKind::path_key));
}

}  // namespace

TEST_CASE("rekey: a node's new key works at once, the old one is refused, ID and VIP stay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto old_creds = dc.enroll("a.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient old_node(old_creds, dc.endpoint(), ep("127.0.0.2", 0));
  const auto first = old_node.register_at();
  REQUIRE(first);
  NodeClient cn(cc, dc.endpoint());
  REQUIRE(cn.register_at());

  int st = 0;
  const std::size_t from = dc.log().size();
  const auto out = dc.cli({"node", "rekey", "a.test.example", "-o", "-"}, &st);
  REQUIRE(st == 0);
  const auto creds = sim::parse_credentials(out);
  CHECK(creds.id == old_creds.id);
  CHECK(creds.key_epoch == 1);
  CHECK_FALSE(creds.key.equals(old_creds.key));
  CHECK(query1(db.url(), "SELECT key_epoch FROM nodes WHERE fqdn = 'a.test.example'") == "1");
  REQUIRE(dc.wait_log("control: party a.test.example", 5000, from));

  // The old key: silence (its messages are dropped and counted).
  CHECK_FALSE(old_node.register_at());
  // The new one: registered, with the VIP it had.
  NodeClient node(creds, dc.endpoint(), ep("127.0.0.3", 0));
  const auto again = node.register_at();
  REQUIRE(again);
  CHECK(again->vip == first->vip);
  // Path keys are sealed to the new key under the new epoch: CN and the
  // node open the same K_path.
  CHECK(one_path_key(cn, node, "a.test.example"));

  // A relay, into a file that exists: replaced whole, mode 0600, epoch 1.
  const auto file = dc.state_dir() / "relay-r1.conf";
  dc.cli({"relay", "add", "r1.test.example", "-o", file.string()}, &st);
  REQUIRE(st == 0);
  const auto relay_before = sim::load_credentials(file.string());
  const auto msg = dc.cli({"relay", "rekey", "r1.test.example", "-o", file.string()}, &st);
  REQUIRE(st == 0);
  CHECK(msg.find("key epoch 1") != std::string::npos);
  const auto relay_after = sim::load_credentials(file.string());
  CHECK(relay_after.key_epoch == 1);
  CHECK(relay_after.id == relay_before.id);
  CHECK_FALSE(relay_after.key.equals(relay_before.key));
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK_FALSE(std::filesystem::exists(file.string() + ".new"));
  NodeClient relay(relay_after, dc.endpoint());
  CHECK(relay.register_at());

  // Unknown names: a clear error, exit status 1.
  dc.cli({"node", "rekey", "nobody.test.example", "-o", "-"}, &st);
  CHECK(st == 1);
  dc.cli({"relay", "rekey", "a.test.example", "-o", "-"}, &st);
  CHECK(st == 1);
}

TEST_CASE("rekey --grace: the old key works until the node speaks under the new one") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto old_creds = dc.enroll("a.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient old_node(old_creds, dc.endpoint(), ep("127.0.0.2", 0));
  const auto first = old_node.register_at();
  REQUIRE(first);
  NodeClient cn(cc, dc.endpoint());
  REQUIRE(cn.register_at());

  int st = 0;
  std::size_t from = dc.log().size();
  const auto out = dc.cli({"node", "rekey", "a.test.example", "--grace", "1h", "-o", "-"}, &st);
  REQUIRE(st == 0);
  const auto creds = sim::parse_credentials(out);
  CHECK(creds.key_epoch == 1);
  REQUIRE(dc.wait_log("a.test.example (" + old_creds.id.to_hex() + ") re-keyed to epoch 1", 5000,
                      from));
  // Still online: the daemon has not been told yet, and needs not be at once.
  CHECK(query1(db.url(), "SELECT online FROM nodes WHERE fqdn = 'a.test.example'") == "t");
  CHECK(query1(db.url(), "SELECT prev_key IS NOT NULL AND prev_key_until > now() + interval "
                         "'59 minutes' FROM nodes WHERE fqdn = 'a.test.example'") == "t");
  const auto shown = dc.cli({"node", "show", "a.test.example"}, &st);
  CHECK(shown.find("old key:    epoch 0, taken for") != std::string::npos);

  // The daemon with the old key goes on: its answers are sealed under the
  // old key (else they would not open here), and so is a path key the DC
  // issues to it.
  const auto again = old_node.register_at();
  REQUIRE(again);
  CHECK(again->vip == first->vip);
  CHECK(one_path_key(cn, old_node, "a.test.example"));

  // It takes the new key (a new channel, as ntmd does on SIGHUP): answered
  // under the new key, and the old one is retired everywhere at once.
  from = dc.log().size();
  NodeClient node(creds, dc.endpoint(), ep("127.0.0.2", 0));
  // The same daemon (ntmd re-registers with reason refresh after SIGHUP).
  const auto now_new = node.register_at({}, wire::RegistrationReason::refresh);
  REQUIRE(now_new);
  CHECK(now_new->vip == first->vip);
  REQUIRE(dc.wait_log("a.test.example speaks under key epoch 1: previous key retired", 2000, from));
  bool retired = false;
  for (int i = 0; i < 50 && !retired; ++i) {
    retired = query1(db.url(), "SELECT prev_key IS NULL AND prev_key_until IS NULL FROM nodes "
                               "WHERE fqdn = 'a.test.example'") == "t";
    if (!retired) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(retired);
  CHECK(dc.cli({"node", "show", "a.test.example"}, &st).find("old key") == std::string::npos);
  // The old key is refused from now on, though its hour is not over.
  CHECK_FALSE(old_node.register_at());
  // Path keys follow: sealed to the new key.
  CHECK(one_path_key(cn, node, "a.test.example"));
  CHECK(dc.stop() == 0);
  // The keys themselves never reach the log.
  CHECK(dc.log().find(creds.key.to_hex()) == std::string::npos);
  CHECK(dc.log().find(old_creds.key.to_hex()) == std::string::npos);
}

TEST_CASE("rekey --grace: the old key is refused when its time is up, or at a re-key without it") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto old_creds = dc.enroll("a.test.example");
  const auto r_creds = dc.enroll("r1.test.example", true);
  dc.start();
  NodeClient old_node(old_creds, dc.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(old_node.register_at());

  // Durations the command refuses: a clear error, exit status 2, nothing changed.
  int st = 0;
  for (const char* bad : {"0", "0s", "-5", "1w", "31d", "2592001", "1.5h", "h", ""}) {
    CAPTURE(bad);
    dc.cli({"node", "rekey", "a.test.example", "--grace", bad, "-o", "-"}, &st);
    CHECK(st != 0);
  }
  CHECK(query1(db.url(), "SELECT key_epoch FROM nodes WHERE fqdn = 'a.test.example'") == "0");

  std::size_t from = dc.log().size();
  const auto out = dc.cli({"node", "rekey", "a.test.example", "--grace", "2s", "-o", "-"}, &st);
  REQUIRE(st == 0);
  const auto creds = sim::parse_credentials(out);
  REQUIRE(dc.wait_log("re-keyed to epoch 1", 5000, from));
  CHECK(old_node.register_at());
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  // Its time is up, though the node never used the new key.
  CHECK_FALSE(old_node.register_at());
  NodeClient node(creds, dc.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(node.register_at());

  // A re-key without --grace during a grace period refuses both older keys.
  from = dc.log().size();
  const auto out1 = dc.cli({"node", "rekey", "a.test.example", "--grace", "1h", "-o", "-"}, &st);
  REQUIRE(st == 0);
  REQUIRE(dc.wait_log("re-keyed to epoch 2", 5000, from));
  CHECK(node.register_at());  // epoch 1, in its grace period
  from = dc.log().size();
  const auto out2 = dc.cli({"node", "rekey", "a.test.example", "-o", "-"}, &st);
  REQUIRE(st == 0);
  REQUIRE(dc.wait_log("control: party a.test.example", 5000, from));
  CHECK(query1(db.url(), "SELECT prev_key IS NULL FROM nodes WHERE fqdn = 'a.test.example'") ==
        "t");
  CHECK_FALSE(node.register_at());  // epoch 1
  NodeClient node2(sim::parse_credentials(out1), dc.endpoint(), ep("127.0.0.4", 0));
  CHECK_FALSE(node2.register_at());  // epoch 2, replaced without a grace period
  NodeClient node3(sim::parse_credentials(out2), dc.endpoint(), ep("127.0.0.5", 0));
  CHECK(node3.register_at());  // epoch 3

  // A relay likewise: its old key keeps working in the grace period.
  NodeClient old_relay(r_creds, dc.endpoint(), ep("127.0.0.6", 0));
  REQUIRE(old_relay.register_at());
  from = dc.log().size();
  dc.cli({"relay", "rekey", "r1.test.example", "--grace", "10m", "-o", "-"}, &st);
  REQUIRE(st == 0);
  REQUIRE(dc.wait_log("re-keyed to epoch 1", 5000, from));
  CHECK(old_relay.register_at());
  CHECK(dc.stop() == 0);
}

TEST_CASE("enrollment: concurrent enrollers never share a VIP and the pool runs out cleanly") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o{db.url()};
  // 100.64.0.0/27: 30 usable addresses for 30 nodes enrolled by 6 processes at once.
  o.extra = "[vip]\npool = 100.64.0.0/27\n";
  DcProcess dc(o);
  dc.cli({"migrate"});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, failed{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        int st = 0;
        dc.cli({"node", "add", "n" + std::to_string(t) + "-" + std::to_string(i) + ".test.example",
                "-o", "-"},
               &st);
        (st == 0 ? ok : failed)++;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 30);
  CHECK(failed == 0);
  CHECK(query1(db.url(), "SELECT count(DISTINCT vip) FROM nodes") == "30");
  // Exhausted: a clear error, nothing inserted.
  int st = 0;
  dc.cli({"node", "add", "extra.test.example", "-o", "-"}, &st);
  CHECK(st == 1);
  CHECK(query1(db.url(), "SELECT count(*) FROM nodes") == "30");
  // Removing a node frees its VIP for the next enrollment.
  const std::string freed =
      query1(db.url(), "SELECT host(vip) FROM nodes WHERE fqdn = 'n0-0.test.example'");
  dc.cli({"node", "remove", "n0-0.test.example"}, &st);
  REQUIRE(st == 0);
  dc.cli({"node", "add", "extra.test.example", "-o", "-"}, &st);
  CHECK(st == 0);
  CHECK(query1(db.url(), "SELECT host(vip) FROM nodes WHERE fqdn = 'extra.test.example'") == freed);
}

TEST_CASE("a flooding node is rate limited while other nodes keep being served") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o{db.url()};
  o.extra = "[limits]\nrate_per_node = 20\n";
  DcProcess dc(o);
  const auto a = dc.enroll("a.test.example");
  const auto b = dc.enroll("b.test.example");
  dc.start();
  NodeClient flooder(a, dc.endpoint()), quiet(b, dc.endpoint());
  REQUIRE(flooder.register_at());
  for (int i = 0; i < 300; ++i) flooder.send(wire::Keepalive{});
  int answers = 0;
  while (flooder.receive(300)) ++answers;
  // A burst of 2 s worth (40) and a little refill, far from 300.
  CHECK(answers > 0);
  CHECK(answers < 100);
  REQUIRE(quiet.register_at());
  CHECK(dc.stop() == 0);
  CHECK(dc.log().find("rate_limited=0 ") == std::string::npos);
}

TEST_CASE("the counters are logged while the DC runs, every stats_interval_s") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o(db.url());
  o.extra = "stats_interval_s = 1\n";  // lands in [log], the last section
  DcProcess dc(o);
  dc.start();
  const auto creds = dc.enroll("laptop.test.example");
  NodeClient node(creds, dc.endpoint());
  REQUIRE(node.register_at());
  // Before any stop: a periodic line that already counts the registration.
  CHECK(dc.wait_log("registrations=1 ", 3000));
  CHECK(dc.wait_log("store: ", 100));
  const std::size_t before_stop = dc.log().size();
  CHECK(dc.log().find("signal") == std::string::npos);
  REQUIRE(dc.stop() == 0);
  // And once more at the stop, as before.
  CHECK(dc.log().find("control: received=", before_stop) != std::string::npos);
}
