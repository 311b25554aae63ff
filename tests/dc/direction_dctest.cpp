// SPDX-License-Identifier: MIT
// Direction over real UDP: responder first, then initiator; keys sealed to
// each; relays; errors for offline and unknown peers.
#include <doctest/doctest.h>

#include <memory>
#include <pqxx/pqxx>
#include <thread>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

// MN and CN behind two NATs; relay1 reports more load than relay2, so a
// relayed path goes through relay2.  All registered.
struct TwoNatsTwoRelays {
  TestDatabase db;
  DcProcess dc;
  Credentials mc, cc, r1c, r2c;
  NodeClient mn, cn, r1, r2;
  // timers: more [timers] lines.
  explicit TwoNatsTwoRelays(const std::string& timers = {})
      : dc(options(db.url(), timers)),
        mc(dc.enroll("mn.test.example")),
        cc(dc.enroll("cn.test.example")),
        r1c(dc.enroll("relay1.test.example", true)),
        r2c(dc.enroll("relay2.test.example", true)),
        mn(mc, dc.endpoint()),
        cn(cc, dc.endpoint()),
        r1(r1c, dc.endpoint()),
        r2(r2c, dc.endpoint()) {
    dc.start();
    REQUIRE(r1.register_at());
    REQUIRE(r2.register_at());
    REQUIRE(r1.request(wire::Keepalive{10, 900}));
    REQUIRE(r2.request(wire::Keepalive{1, 100}));
    REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
    REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  }
  static DcProcess::Options options(const std::string& url, const std::string& timers) {
    DcProcess::Options o(url);
    o.timers_extra = timers;
    return o;
  }
};

}  // namespace

TEST_CASE("direction between two global nodes: CN first then MN with one common key") {
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

  // CN is told first; MN hears nothing until CN acknowledged.
  wire::ControlHeader h;
  auto to_cn = cn.wait_for<wire::RouteDirection>(3000, &h);
  REQUIRE(to_cn);
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(300));
  CHECK(to_cn->you_are == wire::PathEnd::responder);
  CHECK(to_cn->route == wire::RouteType::direct);
  CHECK(to_cn->first == wire::FirstSender::initiator);
  CHECK(to_cn->initiator.node_id == mc.id);
  CHECK(to_cn->initiator.real == mn.local());
  CHECK(to_cn->responder.node_id == cc.id);
  cn.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn.local()}, h.txid);

  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->you_are == wire::PathEnd::initiator);
  CHECK(to_mn->path_id == path);
  CHECK(to_mn->peer_view == to_cn->responder.vip);
  // The same K_path reached both, sealed separately to each.
  CHECK(to_mn->path_key.bytes != to_cn->path_key.bytes);
  const auto k_mn = mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key);
  const auto k_cn = cn.open_key(to_cn->path_key, path, 0, wire::SealedKind::path_key);
  CHECK(k_mn.equals(k_cn));
  CHECK_FALSE(to_mn->relay_key);
  // CN cannot open MN's copy.
  CHECK_THROWS(cn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key));
  REQUIRE(dc.wait_log("established", 3000));
  // The path's final state is written behind the acknowledgement.
  int state = 0;
  for (int i = 0; i < 50 && state != 2; ++i) {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    state = tx.exec("SELECT state FROM paths")[0][0].as<int>();
    if (state != 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(state == 2);
}

TEST_CASE("direction: the NATed side is told to send first and retransmission runs until acked") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at({ep("192.168.7.2", 4512)}));  // CN behind NAT
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  // CN ignores the first Route Direction: the DC sends it again.
  auto first = cn.wait_for<wire::RouteDirection>(3000);
  REQUIRE(first);
  CHECK(first->first == wire::FirstSender::responder);
  CHECK(first->responder.nat == cn.local());
  auto again = accept_direction(cn);
  REQUIRE(again);
  CHECK(again->path_id == path);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->first == wire::FirstSender::responder);
}

TEST_CASE("direction via a relay when both ends are behind different NATs") {
  NTM_REQUIRE_PG_OR_SKIP();
  TwoNatsTwoRelays f;  // relay1 reports more load: relay2 must win
  // Not a structured binding: doctest's macros capture in lambdas, which
  // clang 14 does not allow for structured bindings.
  const Credentials &mc = f.mc, &cc = f.cc;
  NodeClient &mn = f.mn, &cn = f.cn, &r1 = f.r1, &r2 = f.r2;
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});

  auto rd = accept_relay(r2, 50001);
  REQUIRE(rd);
  CHECK(rd->mode == wire::RelayMode::forward);
  CHECK(rd->initiator.node_id == mc.id);
  CHECK(rd->responder.node_id == cc.id);
  CHECK_FALSE(r1.wait_for<wire::RelayDirection>(200));
  const auto k_rp_relay = r2.open_key(rd->relay_key, path, 0, wire::SealedKind::relay_key);

  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  for (auto* d : {&*to_cn, &*to_mn}) {
    CHECK(d->route == wire::RouteType::relay);
    CHECK(d->first == wire::FirstSender::both);
    CHECK(d->relay == ep("127.0.0.1", 50001));
    REQUIRE(d->relay_key);
  }
  const auto k_rp_mn = mn.open_key(*to_mn->relay_key, path, 0, wire::SealedKind::relay_key);
  CHECK(k_rp_mn.equals(k_rp_relay));
  // The relay never receives K_path: its sealed key is K_rp, which differs.
  const auto k_path = mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key);
  CHECK_FALSE(k_path.equals(k_rp_relay));
}

TEST_CASE("direction: a relay that does not answer is skipped") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o{db.url()};
  o.direction_timeout_ms = 600;
  DcProcess dc(o);
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto deaf_c = dc.enroll("deaf.test.example", true);
  const auto good_c = dc.enroll("good.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  NodeClient deaf(deaf_c, dc.endpoint()), good(good_c, dc.endpoint());
  REQUIRE(deaf.register_at());
  REQUIRE(good.register_at());
  REQUIRE(deaf.request(wire::Keepalive{0, 0}));
  REQUIRE(good.request(wire::Keepalive{0, 500}));  // deaf looks better
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(deaf.wait_for<wire::RelayDirection>(2000));  // and never answers
  REQUIRE(accept_relay(good, 50002));
  REQUIRE(accept_direction(cn));
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->relay.port == 50002);
}

TEST_CASE("direction errors: offline peer and unknown name and no relay and path hijack") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto xc = dc.enroll("x.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), x(xc, dc.endpoint());
  REQUIRE(mn.register_at());
  auto code_of = [](const std::optional<wire::Received>& r) {
    REQUIRE(r);
    auto* e = std::get_if<wire::ErrorReply>(&r->body);
    REQUIRE(e);
    return e->code;
  };
  // CN never registered: offline.
  CHECK(code_of(mn.request(wire::DirectionRequest{random_path(), wire::Fqdn{"cn.test.example"},
                                                  false})) == wire::ErrorCode::peer_unreachable);
  CHECK(code_of(mn.request(wire::DirectionRequest{random_path(), wire::Fqdn{"nobody.test.example"},
                                                  false})) == wire::ErrorCode::no_such_name);
  // Two NATs and no relay.
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  CHECK(code_of(mn.request(wire::DirectionRequest{random_path(), wire::Fqdn{"cn.test.example"},
                                                  false})) == wire::ErrorCode::no_route);
  // A path directed for mn cannot be taken over by x.
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const auto path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(x.register_at());
  CHECK(code_of(x.request(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, true})) ==
        wire::ErrorCode::not_authorized);
  // Its owner may re-direct it: a new key epoch.
  wire::ControlHeader h;
  auto again = ask_until<wire::RouteDirection>(
      mn, wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, true}, cn, &h);
  REQUIRE(again);
  CHECK(again->key_epoch == 1);
}

TEST_CASE("direction to a general host goes through a translating relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto rc = dc.enroll("relay.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), relay(rc, dc.endpoint());
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at());
  const auto path = random_path();
  // "localhost" resolves locally (/etc/hosts), outside the DC's zone: a
  // general host.  No packet leaves the machine.
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"localhost"}, false});
  auto rd = accept_relay(relay, 50003);
  REQUIRE(rd);
  CHECK(rd->mode == wire::RelayMode::translate);
  CHECK(rd->responder.real.addr == ep("127.0.0.1", 0).addr);
  const auto k_relay = relay.open_key(rd->relay_key, path, 0, wire::SealedKind::general_key);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->route == wire::RouteType::relay_general);
  CHECK((to_mn->peer_view.addr & 0xffff0000u) == 0x647f0000u);  // general pool 100.127/16
  const auto k_mn = mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::general_key);
  CHECK(k_mn.equals(k_relay));
}

// A general host's path is directed only on its initiator's request, and
// only its initiator could release it; a restarted ntmd knows neither the
// path nor the name behind the VIP (docs/dc.md §8.4, "A node that
// restarts").  So the DC lets such paths go on the new process's `start`,
// and the next lookup of the name gets the same VIP on a new path.
TEST_CASE("general hosts: a restarted MN's paths to general hosts are let go, a move keeps them") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto rc = dc.enroll("relay.test.example", true);
  dc.start();
  NodeClient relay(rc, dc.endpoint());
  REQUIRE(relay.register_at());
  auto direct_localhost = [&](NodeClient& mn) -> std::uint32_t {
    mn.send(wire::DirectionRequest{random_path(), wire::Fqdn{"localhost"}, false});
    REQUIRE(accept_relay(relay, 50003));
    auto to_mn = accept_direction(mn);
    REQUIRE(to_mn);
    CHECK(to_mn->route == wire::RouteType::relay_general);
    return to_mn->peer_view.addr;
  };
  const std::string established = "SELECT count(*) FROM paths WHERE state = 2";
  auto mn = std::make_unique<NodeClient>(mc, dc.endpoint());
  REQUIRE(mn->register_at());
  const std::uint32_t vip = direct_localhost(*mn);
  REQUIRE(query_until(db.url(), established, "1") == "1");
  // The same process after a move: the path stays (the relay follows it).
  mn->move();
  REQUIRE(mn->register_at({}, wire::RegistrationReason::move));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(query1(db.url(), "SELECT count(*) FROM paths") == "1");
  // A new process: let go, at the DC and in the database.
  mn = std::make_unique<NodeClient>(mc, dc.endpoint());
  REQUIRE(mn->register_at());
  CHECK(query_until(db.url(), "SELECT count(*) FROM paths", "0") == "0");
  CHECK(dc.wait_log("mn.test.example restarted: its 0 paths are directed again, 1 to general "
                    "hosts let go", 2000));
  // Its next lookup: a new path to the same VIP.
  CHECK(direct_localhost(*mn) == vip);
  CHECK(query_until(db.url(), established, "1") == "1");
  REQUIRE(dc.stop() == 0);
  CHECK(dc.log().find("general_let_go=1") != std::string::npos);
}

// The VIPs stand for general hosts in the database (migration 0008): not in
// one process's memory, where the next process (a restart, another member
// of the cluster) started its pool afresh and gave the first name it saw
// the address the previous one had given another.
TEST_CASE("general hosts: a name keeps its VIP in the next DC process, and two names never share one") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto rc = dc.enroll("relay.test.example", true);
  // The general host's address in MN's view, from a direction through the
  // relay.  Names are numeric so that the system resolver answers without
  // DNS ("localhost" comes from /etc/hosts): no packet leaves the machine.
  auto vip_of = [&](const std::string& name) -> std::uint32_t {
    NodeClient mn(mc, dc.endpoint()), relay(rc, dc.endpoint());
    REQUIRE(relay.register_at());
    REQUIRE(mn.register_at());
    mn.send(wire::DirectionRequest{random_path(), wire::Fqdn{name}, false});
    REQUIRE(accept_relay(relay, 50003));
    auto to_mn = accept_direction(mn);
    REQUIRE(to_mn);
    CHECK(to_mn->route == wire::RouteType::relay_general);
    return to_mn->peer_view.addr;
  };
  dc.start();
  const std::uint32_t x = vip_of("127.0.0.2");
  const std::uint32_t y = vip_of("localhost");
  CHECK((x & 0xffff0000u) == 0x647f0000u);
  CHECK((y & 0xffff0000u) == 0x647f0000u);
  CHECK(x != y);
  REQUIRE(dc.stop() == 0);
  // The next process meets the names in the other order.
  dc.start();
  CHECK(vip_of("localhost") == y);
  CHECK(vip_of("127.0.0.2") == x);
  CHECK(query1(db.url(), "SELECT count(*) FROM general_hosts") == "2");
  REQUIRE(dc.stop() == 0);
  CHECK(dc.log().find("general_claims=") != std::string::npos);
}

TEST_CASE("two nodes behind one NAT in one network go direct with the relay as fallback") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto rc = dc.enroll("relay.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), relay(rc, dc.endpoint());
  REQUIRE(relay.register_at());
  // Both seen from 127.0.0.1 (one NAT), both in 192.168.1.0/24.
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("192.168.1.3", 4512)}));
  const auto path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  auto rd = accept_relay(relay, 50004);
  REQUIRE(rd);
  CHECK(rd->mode == wire::RelayMode::forward);
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->route == wire::RouteType::direct_private);
  CHECK(to_mn->first == wire::FirstSender::both);
  CHECK(to_mn->responder.real == ep("192.168.1.3", 4512));
  CHECK(to_mn->relay == ep("127.0.0.1", 50004));
  REQUIRE(to_mn->relay_key);
  const auto k = mn.open_key(*to_mn->relay_key, path, 0, wire::SealedKind::relay_key);
  CHECK(k.equals(relay.open_key(rd->relay_key, path, 0, wire::SealedKind::relay_key)));
}

TEST_CASE("a fallback relay that does not answer does not stop a direct route") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o{db.url()};
  o.direction_timeout_ms = 500;
  DcProcess dc(o);
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto rc = dc.enroll("deaf.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), deaf(rc, dc.endpoint());
  REQUIRE(deaf.register_at());
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("192.168.1.3", 4512)}));
  const auto path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(deaf.wait_for<wire::RelayDirection>(2000));  // never answered
  auto to_cn = accept_direction(cn, 5000);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn, 5000);
  REQUIRE(to_mn);
  CHECK(to_mn->route == wire::RouteType::direct_private);
  CHECK(to_mn->relay.empty());
  CHECK_FALSE(to_mn->relay_key);
}

TEST_CASE("a direct route with a NATed first sender gets a stand-by relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto rc = dc.enroll("relay.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), relay(rc, dc.endpoint());
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at());                               // global
  REQUIRE(cn.register_at({ep("192.168.1.3", 4512)}));      // behind NAT
  const auto path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  auto rd = accept_relay(relay, 50005);
  REQUIRE(rd);
  CHECK(rd->mode == wire::RelayMode::forward);
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->route == wire::RouteType::direct);
  CHECK(to_mn->first == wire::FirstSender::responder);
  CHECK(to_mn->relay == ep("127.0.0.1", 50005));
  CHECK(to_cn->relay == ep("127.0.0.1", 50005));
  REQUIRE(to_mn->relay_key);
  REQUIRE(to_cn->relay_key);
  const auto k = relay.open_key(rd->relay_key, path, 0, wire::SealedKind::relay_key);
  CHECK(mn.open_key(*to_mn->relay_key, path, 0, wire::SealedKind::relay_key).equals(k));
  CHECK(cn.open_key(*to_cn->relay_key, path, 0, wire::SealedKind::relay_key).equals(k));
}

TEST_CASE("standby_relay = off leaves a NATed direct route without a relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o{db.url()};
  o.extra = "[route]\nstandby_relay = off\n";
  DcProcess dc(o);
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto rc = dc.enroll("relay.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), relay(rc, dc.endpoint());
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at({ep("192.168.1.3", 4512)}));
  const auto path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->route == wire::RouteType::direct);
  CHECK(to_mn->relay.empty());
  CHECK_FALSE(to_mn->relay_key);
  CHECK_FALSE(relay.wait_for<wire::RelayDirection>(300));  // the relay was never asked
}

TEST_CASE("a retransmitted Direction Request after the path was directed changes nothing") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const auto path = random_path();
  const wire::DirectionRequest req{path, wire::Fqdn{"cn.test.example"}, false};
  const std::uint32_t txid = mn.send(req);
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(dc.wait_log("established", 3000));
  mn.send(req, txid);  // a late retransmission
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(700));
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(100));
}

TEST_CASE("a path left half-directed by a DC crash is directed afresh when the initiator asks again") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const auto path = random_path();
  const wire::DirectionRequest req{path, wire::Fqdn{"cn.test.example"}, false};
  mn.send(req);
  REQUIRE(cn.wait_for<wire::RouteDirection>(3000));  // CN does not answer: the DC waits
  bool stored = false;
  for (int i = 0; i < 50 && !stored; ++i) {
    stored = query1(db.url(), "SELECT state FROM paths") == "1";  // directing
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(stored);
  dc.kill9();
  // Drop the dead DC's retransmissions to CN (epoch 0) still queued.
  while (cn.wait_for<wire::RouteDirection>(200)) {
  }
  dc.start();
  // The same request again (not a re-direction): a new key epoch, both ends directed.
  mn.send(req);
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  CHECK(to_cn->key_epoch == 1);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 1);
  REQUIRE(dc.wait_log("established", 3000));
  // Established now: a further retransmission changes nothing.
  mn.send(req);
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(700));
}

TEST_CASE("a relay removed while it is being asked: the direction moves on to the next relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto gone_c = dc.enroll("gone.test.example", true);
  const auto next_c = dc.enroll("next.test.example", true);
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  NodeClient gone(gone_c, dc.endpoint()), next(next_c, dc.endpoint());
  REQUIRE(gone.register_at());
  REQUIRE(next.register_at());
  REQUIRE(gone.request(wire::Keepalive{0, 0}));
  REQUIRE(next.request(wire::Keepalive{0, 500}));  // "gone" is asked first
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(gone.wait_for<wire::RelayDirection>(2000));
  int status = -1;
  dc.cli({"relay", "remove", "gone.test.example"}, &status);
  REQUIRE(status == 0);
  // Well before direction_timeout_ms (3 s): the removal moved it on.
  auto rd = next.wait_for<wire::RelayDirection>(1500);
  REQUIRE(rd);
  CHECK(rd->path_id == path);
  next.send(wire::RelayResponse{rd->path_id, rd->key_epoch, wire::Status::ok, ep("127.0.0.1", 50003)});
  REQUIRE(accept_direction(cn));
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->relay.port == 50003);
  REQUIRE(dc.wait_log("established", 3000));
  // The stored path names the relay that carries it.
  bool right = false;
  for (int i = 0; i < 50 && !right; ++i) {
    right = query1(db.url(), "SELECT encode(relay_id, 'hex') FROM paths WHERE state = 2") ==
            next_c.id.to_hex();
    if (!right) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(right);
}

TEST_CASE("a path directed again after its first direction failed goes under the next epoch") {
  // The failed direction leaves no row.  Were the next one under epoch 0
  // again, a late copy of the failed one's Route Direction would carry the
  // epoch in force with other keys, and an end would take them (docs/dc.md
  // §8.3); under epoch 1 such a copy is an older epoch, refused.
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o(db.url());
  o.direction_timeout_ms = 600;
  DcProcess dc(o);
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  auto first = cn.wait_for<wire::RouteDirection>(2000);  // CN takes it and does not answer
  REQUIRE(first);
  CHECK(first->key_epoch == 0);
  auto err = mn.wait_for<wire::ErrorReply>(3000);
  REQUIRE(err);
  CHECK(err->code == wire::ErrorCode::peer_unreachable);

  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  wire::ControlHeader h;
  std::optional<wire::RouteDirection> again;
  // Past the failed direction's retransmissions to CN.
  for (int i = 0; i < 20; ++i) {
    again = cn.wait_for<wire::RouteDirection>(2000, &h);
    if (!again || again->key_epoch != first->key_epoch) break;
  }
  REQUIRE(again);
  CHECK(again->key_epoch == 1);
  cn.send(wire::RouteDirectionAck{path, again->key_epoch, wire::Status::ok, cn.local()}, h.txid);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 1);
  CHECK(mn.open_key(to_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn.open_key(again->path_key, path, 1, wire::SealedKind::path_key)));
  REQUIRE(dc.wait_log("established", 3000));
}

TEST_CASE("a peer removed mid-direction: the initiator is told at once") {
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
  REQUIRE(cn.wait_for<wire::RouteDirection>(2000));  // CN does not answer
  int status = -1;
  dc.cli({"node", "remove", "cn.test.example"}, &status);
  REQUIRE(status == 0);
  auto err = mn.wait_for<wire::ErrorReply>(1500);  // not after direction_timeout_ms
  REQUIRE(err);
  CHECK(err->code == wire::ErrorCode::no_route);
  std::string left = "?";
  for (int i = 0; i < 50 && left != "0"; ++i) {
    left = query1(db.url(), "SELECT count(*) FROM paths");
    if (left != "0") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(left == "0");
}

TEST_CASE("a new path between two nodes supersedes their older ones, other pairs keep theirs") {
  // A node keeps one path per peer, so the DC keeps one per pair: older
  // ones would be re-directed on a move, and the two ends could keep
  // different ones (docs/dc.md §8.4).
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess dc(db.url());
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto xc = dc.enroll("xn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), xn(xc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  REQUIRE(xn.register_at());
  auto direct = [&](NodeClient& from, NodeClient& to, const char* name) {
    const auto path = random_path();
    from.send(wire::DirectionRequest{path, wire::Fqdn{name}, false});
    REQUIRE(accept_direction(to));
    REQUIRE(accept_direction(from));
    REQUIRE(dc.wait_log("path " + path.to_hex() + " established", 3000));
    return path;
  };
  const auto p1 = direct(mn, cn, "cn.test.example");
  const auto px = direct(mn, xn, "xn.test.example");
  const auto p2 = direct(cn, mn, "mn.test.example");  // the same pair, the other way round
  CHECK(dc.wait_log("path " + p1.to_hex() + " superseded by path " + p2.to_hex(), 3000));
  const auto p3 = direct(mn, cn, "cn.test.example");
  CHECK(dc.wait_log("path " + p2.to_hex() + " superseded by path " + p3.to_hex(), 3000));
  // In the database: the newest path of the pair and the other pair's.
  const std::string want = p3.to_hex() < px.to_hex() ? p3.to_hex() + "," + px.to_hex()
                                                      : px.to_hex() + "," + p3.to_hex();
  std::string have;
  for (int i = 0; i < 50 && have != want; ++i) {
    have = query1(db.url(),
                  "SELECT string_agg(encode(path_id, 'hex'), ',' ORDER BY encode(path_id, 'hex')) "
                  "FROM paths");
    if (have != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(have == want);
  // An older path's ID now belongs to nobody: its initiator asking for it
  // again gets a fresh direction (not "in use"), a new path that
  // supersedes p3.
  mn.send(wire::DirectionRequest{p1, wire::Fqdn{"cn.test.example"}, false});
  CHECK(accept_direction(cn));
  CHECK(accept_direction(mn));
  CHECK(dc.wait_log("path " + p3.to_hex() + " superseded by path " + p1.to_hex(), 3000));
}

TEST_CASE("re-keying: a path path_rekey_s old gets the next key epoch, same route") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o(db.url());
  o.timers_extra = "path_rekey_s = 2\n";
  DcProcess dc(o);
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  auto cn0 = accept_direction(cn);
  REQUIRE(cn0);
  auto mn0 = accept_direction(mn);
  REQUIRE(mn0);
  REQUIRE(dc.wait_log("established", 3000));
  const auto k0 = mn.open_key(mn0->path_key, path, 0, wire::SealedKind::path_key);
  // Nobody moved or asked: after 2 s the DC directs the path again, CN
  // first, under epoch 1 and a new K_path, on the same route.
  const auto t0 = std::chrono::steady_clock::now();
  auto cn1 = accept_direction(cn, 5000);
  REQUIRE(cn1);
  const double after_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(after_s > 1.0);  // not before its age (2 s from the end of the first direction)
  auto mn1 = accept_direction(mn);
  REQUIRE(mn1);
  for (auto* d : {&*cn1, &*mn1}) {
    CHECK(d->path_id == path);
    CHECK(d->key_epoch == 1);
    CHECK(d->route == mn0->route);
    CHECK(d->first == mn0->first);
  }
  CHECK(cn1->you_are == wire::PathEnd::responder);
  CHECK(mn1->you_are == wire::PathEnd::initiator);
  CHECK(mn1->peer_view == mn0->peer_view);  // applications keep their address
  const auto k1 = mn.open_key(mn1->path_key, path, 1, wire::SealedKind::path_key);
  CHECK(k1.equals(cn.open_key(cn1->path_key, path, 1, wire::SealedKind::path_key)));
  CHECK_FALSE(k1.equals(k0));
  CHECK(query_until(db.url(), "SELECT key_epoch FROM paths", "1") == "1");
  REQUIRE(dc.stop() == 0);
  CHECK(dc.log().find("rekeys=") != std::string::npos);
  CHECK(dc.log().find("rekeys=0") == std::string::npos);
}

TEST_CASE("re-keying keeps the relay the path has, though another is less loaded now") {
  NTM_REQUIRE_PG_OR_SKIP();
  TwoNatsTwoRelays f("path_rekey_s = 2\n");
  DcProcess& dc = f.dc;
  NodeClient &mn = f.mn, &cn = f.cn, &r1 = f.r1, &r2 = f.r2;
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  auto rd0 = accept_relay(r2, 50001);
  REQUIRE(rd0);
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(dc.wait_log("established", 3000));
  const auto k_rp0 = r2.open_key(rd0->relay_key, path, 0, wire::SealedKind::relay_key);
  // relay1 is the less loaded one now; a new path would go there.
  REQUIRE(r1.request(wire::Keepalive{0, 0}));
  REQUIRE(r2.request(wire::Keepalive{20, 950}));
  wire::ControlHeader h;
  auto rd1 = r2.wait_for<wire::RelayDirection>(5000, &h);
  REQUIRE(rd1);
  r2.send(wire::RelayResponse{path, rd1->key_epoch, wire::Status::ok, ep("127.0.0.1", 50001)},
          h.txid);
  CHECK(rd1->path_id == path);
  CHECK(rd1->key_epoch == 1);
  CHECK_FALSE(r1.wait_for<wire::RelayDirection>(100));
  auto cn1 = accept_direction(cn);
  REQUIRE(cn1);
  auto mn1 = accept_direction(mn);
  REQUIRE(mn1);
  CHECK(mn1->key_epoch == 1);
  CHECK(mn1->route == wire::RouteType::relay);
  CHECK(mn1->relay == ep("127.0.0.1", 50001));
  REQUIRE(mn1->relay_key);
  const auto k_rp1 = mn.open_key(*mn1->relay_key, path, 1, wire::SealedKind::relay_key);
  CHECK(k_rp1.equals(r2.open_key(rd1->relay_key, path, 1, wire::SealedKind::relay_key)));
  CHECK_FALSE(k_rp1.equals(k_rp0));
}
