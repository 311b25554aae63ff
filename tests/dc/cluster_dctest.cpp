// SPDX-License-Identifier: MIT
// The DC cluster (docs/operations.md "DC cluster"): two real ntm-dc
// processes on one database.  A registration at one reaches the other's
// view through LISTEN/NOTIFY within a bound (measured); a node homed at one
// member is directed by the other through its own NAT binding, and the ack
// reaches the directing member; garbage on the channel is counted, never
// acted on; a path is re-keyed by one member only.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <thread>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

// Two members of one cluster (same DC ID and zone) on one database.
struct Cluster {
  // timers: more [timers] lines for both members.
  explicit Cluster(const std::string& url, const std::string& timers = {},
                   unsigned direction_timeout_ms = 3000)
      : a(options(url, timers, direction_timeout_ms)),
        b(options(url, timers, direction_timeout_ms)) {
    a.set_cluster({a.endpoint(), b.endpoint()});
    b.set_cluster({a.endpoint(), b.endpoint()});
  }
  static DcProcess::Options options(const std::string& url, const std::string& timers,
                                    unsigned direction_timeout_ms) {
    DcProcess::Options o(url);
    o.dc_id = "0123456789abcdef0123456789abcdef";
    o.timers_extra = timers;
    o.direction_timeout_ms = direction_timeout_ms;
    return o;
  }
  DcProcess a, b;
};

// A counter from the "cluster: ..." line a DC logs when it stops.
std::uint64_t cluster_counter(const std::string& log, const std::string& name) {
  std::smatch m;
  const std::regex re("cluster: .*\\b" + name + "=([0-9]+)");
  if (!std::regex_search(log, m, re)) return ~0ull;
  return std::stoull(m[1].str());
}

std::size_t log_size(const DcProcess& dc) { return dc.log().size(); }

// The re-key counter of the stats a DC logs when it stops (~0: none).
std::uint64_t rekeys_of(const std::string& log) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("\\brekeys=([0-9]+)"))) return ~0ull;
  return std::stoull(m[1].str());
}

}  // namespace

TEST_CASE("cluster: a registration at A is in B's view within the bound (measured)") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.a.start();
  c.b.start();
  // Enrolled through A's CLI: the file names every member, A first.
  int st = 0;
  const std::string file = c.a.cli({"node", "add", "n1.test.example", "-o", "-"}, &st);
  REQUIRE(st == 0);
  CHECK(file.find("endpoints = " + c.a.endpoint().to_string() + ", " +
                  c.b.endpoint().to_string()) != std::string::npos);
  const auto creds = parse_credentials(file);
  NodeClient n1(creds, c.a.endpoint());
  // B learns of the enrollment (the CLI's note) before the node registers.
  REQUIRE(c.b.wait_log("n1.test.example", 3000));

  std::vector<double> ms;
  for (int i = 0; i < 20; ++i) {
    const auto from = log_size(c.b);
    // A new reported address each time: a move, so that the row changes.
    auto r = n1.register_at({ep("10.1.0.1", static_cast<std::uint16_t>(5000 + i))});
    REQUIRE(r);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.b.wait_log("cluster: n1.test.example registered at " + n1.local().to_string(),
                         2000, from));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  MESSAGE("commit at A (answer received) to B's view: median " << ms[ms.size() / 2]
                                                               << " ms, max " << ms.back()
                                                               << " ms over " << ms.size());
  CHECK(ms.back() < 1000.0);  // the documented bound

  // B answers for the node: a Keepalive there keeps a binding, and B does
  // not ask it to register again (A is its home).
  n1.set_dc(c.b.endpoint());
  auto ack = n1.request(wire::Keepalive{});
  REQUIRE(ack);
  REQUIRE(std::holds_alternative<wire::KeepaliveAck>(ack->body));
  CHECK_FALSE(std::get<wire::KeepaliveAck>(ack->body).reregister);
  CHECK(std::get<wire::KeepaliveAck>(ack->body).observed == n1.local());

  REQUIRE(c.a.stop() == 0);
  REQUIRE(c.b.stop() == 0);
  // Each process skipped its own notes and took the other's registrations
  // from the notes themselves, without reloading the row.
  CHECK(cluster_counter(c.a.log(), "own") >= 20);
  CHECK(cluster_counter(c.b.log(), "registrations_carried") >= 20);
  CHECK(cluster_counter(c.b.log(), "unplaced") == 0);
  CHECK(cluster_counter(c.b.log(), "garbage") == 0);
  // B never wrote the node: no registration or keepalive of its own.
  CHECK(cluster_counter(c.b.log(), "own") == 0);
}

TEST_CASE("cluster: B directs a node homed at A through the node's binding towards B") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.a.start();
  c.b.start();
  const auto cn_creds = c.a.enroll("cn.test.example");
  const auto mn_creds = c.b.enroll("mn.test.example");
  // CN behind a NAT that maps per destination: its socket towards A and
  // its socket towards B differ (two sockets, one identity).
  NodeClient cn_a(cn_creds, c.a.endpoint(), ep("127.0.0.2", 0));
  NodeClient cn_b(cn_creds, c.b.endpoint(), ep("127.0.0.2", 0));
  NodeClient mn(mn_creds, c.b.endpoint());
  const auto from = log_size(c.b);
  REQUIRE(cn_a.register_at({ep("192.168.7.2", 4512)}));
  REQUIRE(c.b.wait_log("cluster: cn.test.example registered at " + cn_a.local().to_string(), 2000,
                       from));
  // The node's Keepalive to B: B keeps that source as its binding.
  auto ka = cn_b.request(wire::Keepalive{});
  REQUIRE(ka);
  CHECK_FALSE(std::get<wire::KeepaliveAck>(ka->body).reregister);
  REQUIRE(mn.register_at());

  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  // B's Route Direction reaches the CN on its binding towards B, not on A's.
  wire::ControlHeader h;
  auto to_cn = cn_b.wait_for<wire::RouteDirection>(3000, &h);
  REQUIRE(to_cn);
  CHECK_FALSE(cn_a.wait_for<wire::RouteDirection>(100));
  CHECK(to_cn->you_are == wire::PathEnd::responder);
  CHECK(to_cn->responder.node_id == cn_creds.id);
  // The ack goes back to B, where the direction waits for it.
  cn_b.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn_a.local()},
            h.txid);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->path_id == path);
  CHECK(mn.open_key(to_mn->path_key, path, to_mn->key_epoch, wire::SealedKind::path_key)
            .equals(cn_b.open_key(to_cn->path_key, path, to_cn->key_epoch,
                                  wire::SealedKind::path_key)));
  REQUIRE(c.b.wait_log("established", 3000));
  // A learns of the path B made.
  for (int i = 0; i < 100; ++i) {
    if (query1(db.url(), "SELECT state FROM paths") == "2") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(c.a.stop() == 0);
  REQUIRE(c.b.stop() == 0);
  // ... from the notes themselves: the path's row is carried, not reloaded.
  CHECK(cluster_counter(c.a.log(), "paths_carried") >= 1);
  CHECK(cluster_counter(c.a.log(), "paths_reloaded") == 0);
}

TEST_CASE("cluster: a relay homed at A carries a path B directs, B never writes A's relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.a.start();
  c.b.start();
  const auto rc = c.a.enroll("relay.test.example", true);
  const auto cn_creds = c.a.enroll("cn.test.example");
  const auto mn_creds = c.b.enroll("mn.test.example");
  NodeClient relay(rc, c.a.endpoint()), cn(cn_creds, c.a.endpoint()), mn(mn_creds, c.b.endpoint());
  auto from = log_size(c.b);
  REQUIRE(relay.register_at());
  REQUIRE(c.b.wait_log("cluster: relay.test.example registered", 2000, from));
  from = log_size(c.b);
  REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  REQUIRE(c.b.wait_log("cluster: cn.test.example registered", 2000, from));
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  // Both behind NAT: B needs the relay A registered.
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  // ntm-rs answers the member that sent the Relay Direction (relay/dc_link).
  relay.set_dc(c.b.endpoint());
  auto rd = accept_relay(relay, 50011);
  REQUIRE(rd);
  CHECK(rd->responder.node_id == cn_creds.id);
  // The CN has no binding at B yet (no Keepalive there): B sends to the
  // endpoint A observed, which on loopback is the same socket.
  cn.set_dc(c.b.endpoint());
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->route == wire::RouteType::relay);
  CHECK(to_mn->relay == ep("127.0.0.1", 50011));
  REQUIRE(to_mn->relay_key);
  CHECK(mn.open_key(*to_mn->relay_key, path, to_mn->key_epoch, wire::SealedKind::relay_key)
            .equals(relay.open_key(rd->relay_key, path, rd->key_epoch,
                                   wire::SealedKind::relay_key)));
  REQUIRE(c.b.wait_log("established", 3000));
  REQUIRE(c.a.stop() == 0);
  REQUIRE(c.b.stop() == 0);
  // The relay and the CN stayed A's: B wrote registrations only for MN.
  CHECK(cluster_counter(c.a.log(), "parties_reloaded") >= 1);
  CHECK(c.b.log().find("relay.test.example silent") == std::string::npos);
}

TEST_CASE("cluster: a copy of a registration made at A is refused by B once B has its note") {
  // The members keep separate replay windows; the note that carries a
  // registration carries its message's instance and counter, so an
  // on-path copy sent to another member is a replay there too.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.a.start();
  c.b.start();
  const auto creds = c.a.enroll("n1.test.example");
  NodeClient n1(creds, c.a.endpoint());
  auto from = log_size(c.b);
  REQUIRE(n1.register_at({ep("10.1.0.1", 4512)}));
  const std::vector<std::uint8_t> copy = n1.last_datagram();
  REQUIRE(c.b.wait_log("cluster: n1.test.example registered at " + n1.local().to_string(), 2000,
                       from));
  // The copy from elsewhere, to B: no answer, and B keeps the node where it is.
  NodeClient thief(creds, c.b.endpoint(), ep("127.0.0.5", 0));
  thief.send_raw(copy);
  CHECK_FALSE(thief.wait_for<wire::RegistrationResponse>(800));
  // The node's own next message to B is not affected.
  n1.set_dc(c.b.endpoint());
  auto ack = n1.request(wire::Keepalive{});
  REQUIRE(ack);
  REQUIRE(std::holds_alternative<wire::KeepaliveAck>(ack->body));
  CHECK(std::get<wire::KeepaliveAck>(ack->body).observed == n1.local());
  REQUIRE(c.a.stop() == 0);
  REQUIRE(c.b.stop() == 0);
  std::smatch m;
  const std::string log = c.b.log();
  REQUIRE(std::regex_search(log, m, std::regex("\\breplayed=([0-9]+)")));
  CHECK(std::stoull(m[1].str()) == 1);
  CHECK(log.find("127.0.0.5") == std::string::npos);
}

TEST_CASE("cluster: garbage on the notification channel is ignored and counted") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.b.start();
  const auto creds = c.b.enroll("n1.test.example");
  const std::vector<std::string> garbage = {
      "garbage",
      "parties",
      "parties 0123456789abcdef",                                      // no ID
      "parties 0123456789abcdef 0123",                                 // short ID
      "parties xyz3456789abcdef " + creds.id.to_hex(),                 // bad sender
      "paths 0123456789abcdef  " + creds.id.to_hex(),                  // two spaces
      "node " + creds.id.to_hex() + " extra",
      "nodes " + creds.id.to_hex(),  // an unknown word
      "reg 0123456789abcdef " + creds.id.to_hex() + "/7/-/-",              // bad NAT digit
      "reg 0123456789abcdef " + creds.id.to_hex() + "/1/-/10.0.0.1:4500,",  // empty address
  };
  {
    pqxx::connection conn(db.url());
    pqxx::work tx(conn);
    for (const auto& g : garbage) tx.exec("SELECT pg_notify('ntm_changes', " + tx.quote(g) + ")");
    // A well-formed note about a party that does not exist: reloaded, nothing found.
    tx.exec("SELECT pg_notify('ntm_changes', 'parties 0123456789abcdef " +
            std::string(32, 'e') + "')");
    // A carried registration of a party B does not hold: B asks for the
    // row instead of inventing the node, and finds none.
    tx.exec("SELECT pg_notify('ntm_changes', 'reg 0123456789abcdef " + std::string(32, 'e') +
            "/1/203.0.113.9:4500/-')");
    tx.commit();
  }
  REQUIRE(c.b.wait_log("listener: ignored a malformed notification", 3000));
  REQUIRE(c.b.wait_log("listener: reloaded 0 of 1 parties", 3000));
  // Still serving.
  NodeClient n1(creds, c.b.endpoint());
  REQUIRE(n1.register_at());
  REQUIRE(c.b.stop() == 0);
  CHECK(cluster_counter(c.b.log(), "garbage") == garbage.size());
  CHECK(cluster_counter(c.b.log(), "notes") >= garbage.size() + 2);
  CHECK(cluster_counter(c.b.log(), "unplaced") == 1);
}

TEST_CASE("cluster: a member listens before it loads, so it starts with one load and misses "
          "nothing enrolled meanwhile") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.a.start();
  // Nodes enrolled through A's CLI before, while and after B starts: each
  // is in B's load, or a notification B's connection queued since LISTEN.
  std::vector<Credentials> creds;
  creds.push_back(c.a.enroll("n0.test.example"));
  std::thread enroller([&] {
    for (int i = 1; i <= 8; ++i)
      creds.push_back(c.a.enroll("n" + std::to_string(i) + ".test.example"));
  });
  c.b.start();
  enroller.join();
  REQUIRE(creds.size() == 9);
  // B holds every one of them: each registers at B.
  for (const auto& cr : creds) {
    NodeClient n(cr, c.b.endpoint());
    bool ok = false;
    // The last enrollments' notes may still be on their way to B.
    for (int attempt = 0; attempt < 5 && !ok; ++attempt) {
      ok = static_cast<bool>(n.register_at());
      if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK_MESSAGE(ok, cr.name << " unknown at B");
  }
  REQUIRE(c.b.stop() == 0);
  REQUIRE(c.a.stop() == 0);
  // One load at start: the listener's connection was LISTENing before it,
  // so the listener did not reload everything once more.
  CHECK(cluster_counter(c.b.log(), "resyncs") == 0);
  CHECK(cluster_counter(c.a.log(), "resyncs") == 0);
  CHECK(c.b.log().find("listener: database") == std::string::npos);
}

TEST_CASE("cluster: only the member the initiator registers with re-keys a path") {
  NTM_REQUIRE_PG_OR_SKIP();
  // Both members have the path in their views with the same age rule; if
  // both re-keyed, each would direct the same next epoch with its own key.
  TestDatabase db;
  Cluster c(db.url(), "path_rekey_s = 2\n");
  c.a.start();
  c.b.start();
  const auto mc = c.a.enroll("mn.test.example");
  const auto cc = c.a.enroll("cn.test.example");
  NodeClient mn(mc, c.a.endpoint(), ep("127.0.0.2", 0));
  NodeClient cn(cc, c.a.endpoint(), ep("127.0.0.3", 0));
  const auto from_b = log_size(c.b);
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  REQUIRE(c.b.wait_log("cluster: mn.test.example registered at", 2000, from_b));
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(c.a.wait_log("established", 3000));
  REQUIRE(query_until(db.url(), "SELECT state FROM paths", "2") == "2");

  // For 5 s (B has had the path for over 2 s by the end): every re-key
  // comes from A, reaches CN then MN with one key, and has a new epoch.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<int> epochs;
  while (std::chrono::steady_clock::now() < end) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          end - std::chrono::steady_clock::now())
                                          .count());
    auto to_cn = accept_direction(cn, std::max(left, 1));
    if (!to_cn) break;
    auto to_mn = accept_direction(mn);
    REQUIRE(to_mn);
    CHECK(to_mn->key_epoch == to_cn->key_epoch);
    CHECK(mn.open_key(to_mn->path_key, path, to_mn->key_epoch, wire::SealedKind::path_key)
              .equals(cn.open_key(to_cn->path_key, path, to_cn->key_epoch,
                                  wire::SealedKind::path_key)));
    epochs.push_back(to_cn->key_epoch);
  }
  REQUIRE_FALSE(epochs.empty());
  for (std::size_t i = 0; i < epochs.size(); ++i) CHECK(epochs[i] == static_cast<int>(i + 1));
  REQUIRE(c.a.stop() == 0);
  REQUIRE(c.b.stop() == 0);
  CHECK(rekeys_of(c.a.log()) >= 1);
  CHECK(rekeys_of(c.b.log()) == 0);
}

TEST_CASE("cluster: a path another member is directing is not directed twice, and is taken over "
          "once that member is gone") {
  NTM_REQUIRE_PG_OR_SKIP();
  // A directs; CN, whose Route Direction from A is not yet acknowledged,
  // asks B to re-direct (it moved, or failed over).  B must not start a
  // second direction under another epoch while A's runs: the ends would
  // hold two keys.  Once A is gone for longer than a direction may take,
  // B directs the path afresh.
  TestDatabase db;
  Cluster c(db.url(), {}, 1500);
  c.a.start();
  c.b.start();
  const auto mc = c.a.enroll("mn.test.example");
  const auto cc = c.a.enroll("cn.test.example");
  NodeClient mn(mc, c.a.endpoint(), ep("127.0.0.2", 0));
  NodeClient cn_a(cc, c.a.endpoint(), ep("127.0.0.3", 0));
  NodeClient cn_b(cc, c.b.endpoint(), ep("127.0.0.3", 0));
  const auto from_b = log_size(c.b);
  REQUIRE(mn.register_at());
  REQUIRE(cn_a.register_at());
  REQUIRE(c.b.wait_log("cluster: cn.test.example registered at", 2000, from_b));
  REQUIRE(c.b.wait_log("cluster: mn.test.example registered at", 2000, from_b));
  // CN's binding towards B: B's messages to CN reach cn_b.
  REQUIRE(cn_b.request(wire::Keepalive{}));

  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  const auto from_a = cn_a.wait_for<wire::RouteDirection>(3000);  // not acknowledged
  REQUIRE(from_a);
  CHECK(from_a->key_epoch == 0);
  REQUIRE(c.b.wait_log("cluster: path " + path.to_hex() + " directing", 2000, from_b));

  // While A's direction runs: dropped at B, counted, nothing sent.
  const wire::DirectionRequest redirect{path, wire::Fqdn{"mn.test.example"}, true};
  cn_b.send(redirect);
  CHECK_FALSE(cn_b.wait_for<wire::RouteDirection>(500));
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(10));
  CHECK(query1(db.url(), "SELECT key_epoch FROM paths") == "0");

  // A dies midway; past the row's lease (direction timeout plus the
  // clock margin), B takes the path over under the next epoch.
  c.a.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(2700));
  cn_b.send(redirect);
  wire::ControlHeader h;
  const auto to_cn = cn_b.wait_for<wire::RouteDirection>(3000, &h);
  REQUIRE(to_cn);
  CHECK(to_cn->key_epoch == 1);
  cn_b.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn_a.local()},
            h.txid);
  mn.set_dc(c.b.endpoint());
  const auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 1);
  CHECK(mn.open_key(to_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn_b.open_key(to_cn->path_key, path, 1, wire::SealedKind::path_key)));
  REQUIRE(c.b.wait_log("established", 3000, from_b));
  REQUIRE(c.b.stop() == 0);
  std::smatch m;
  const std::string log = c.b.log();
  REQUIRE(std::regex_search(log, m, std::regex("\\bdirecting_elsewhere=([0-9]+)")));
  CHECK(std::stoull(m[1].str()) >= 1);
}

TEST_CASE("cluster: a re-key's grace ends on every member when the node speaks under the new key") {
  // rekey --grace (docs/dc.md §11): both members take the old key until
  // the node's first message under the new one, at either member.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  Cluster c(db.url());
  c.a.start();
  c.b.start();
  const auto old_creds = c.a.enroll("n1.test.example");
  NodeClient old_at_a(old_creds, c.a.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(old_at_a.register_at());
  NodeClient old_at_b(old_creds, c.b.endpoint(), ep("127.0.0.3", 0));
  auto from_a = log_size(c.a), from_b = log_size(c.b);
  int st = 0;
  const auto out = c.a.cli({"node", "rekey", "n1.test.example", "--grace", "1h", "-o", "-"}, &st);
  REQUIRE(st == 0);
  REQUIRE(c.a.wait_log("re-keyed to epoch 1", 5000, from_a));
  REQUIRE(c.b.wait_log("re-keyed to epoch 1", 5000, from_b));
  // The old key at both members.
  CHECK(old_at_a.register_at());
  auto ka = old_at_b.request(wire::Keepalive{});
  REQUIRE(ka);
  CHECK(std::holds_alternative<wire::KeepaliveAck>(ka->body));

  // The new key at A ends it at A and, through the database, at B.
  NodeClient node(sim::parse_credentials(out), c.a.endpoint(), ep("127.0.0.4", 0));
  REQUIRE(node.register_at());
  REQUIRE(c.a.wait_log("n1.test.example speaks under key epoch 1: previous key retired", 2000));
  // B drops it when the note of A's batch arrives (within the bound).
  bool refused = false;
  for (int i = 0; i < 30 && !refused; ++i) {
    refused = !old_at_b.request(wire::Keepalive{}, 200);
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(refused);
  CHECK_FALSE(old_at_a.register_at());
  // The new key at B works.
  NodeClient node_at_b(sim::parse_credentials(out), c.b.endpoint(), ep("127.0.0.5", 0));
  auto ka2 = node_at_b.request(wire::Keepalive{});
  REQUIRE(ka2);
  CHECK(std::holds_alternative<wire::KeepaliveAck>(ka2->body));
  REQUIRE(c.a.stop() == 0);
  REQUIRE(c.b.stop() == 0);
}
