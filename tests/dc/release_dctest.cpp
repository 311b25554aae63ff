// SPDX-License-Identifier: MIT
// Path Release (docs/protocol.md §7.21) against a real ntm-dc and
// PostgreSQL: an end lets a path go and the DC forgets it (row, view, the
// re-key pass); the other end's release and a retransmission are
// acknowledged; a node that is not an end is refused with the words a
// stranger gets for a path that does not exist, and nothing is deleted; in
// a cluster, a release at one member stops the other's re-keying.
#include <doctest/doctest.h>

#include <pqxx/pqxx>
#include <regex>
#include <thread>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;

namespace {

std::string path_rows(const std::string& url, const wire::PathId& p) {
  return query1(url, "SELECT count(*) FROM paths WHERE path_id = decode('" + p.to_hex() + "', 'hex')");
}

// A released path's answer: the ack, or the refusal's words.
std::string release(NodeClient& n, const wire::PathId& p, int timeout_ms = 3000) {
  auto r = n.request(wire::PathRelease{p}, timeout_ms);
  if (!r) return "silence";
  if (auto* a = std::get_if<wire::PathReleaseAck>(&r->body)) return a->path_id == p ? "ack" : "ack?";
  if (auto* e = std::get_if<wire::ErrorReply>(&r->body)) {
    CHECK(e->ref_type == wire::MsgType::path_release);
    return std::string(wire::to_string(e->code)) + ": " + e->reason.value;
  }
  return "other";
}

std::uint64_t counter(const std::string& log, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("\\b" + name + "=([0-9]+)"))) return ~0ull;
  return std::stoull(m[1].str());
}

}  // namespace

TEST_CASE("path release: an end lets the path go, the DC forgets it and re-keys it no more") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  DcProcess::Options o(db.url());
  o.timers_extra = "path_rekey_s = 2\n";
  DcProcess dc(o);
  const auto mc = dc.enroll("mn.test.example");
  const auto cc = dc.enroll("cn.test.example");
  const auto sc = dc.enroll("stranger.test.example");
  dc.start();
  NodeClient mn(mc, dc.endpoint()), cn(cc, dc.endpoint()), stranger(sc, dc.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  REQUIRE(stranger.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(query_until(db.url(), "SELECT state FROM paths", "2") == "2");

  // Not an end: refused, and with the same words as for a path that does
  // not exist; the path stays.
  const std::string refused = "not_authorized: no such path of yours";
  CHECK(release(stranger, path) == refused);
  CHECK(release(stranger, random_path()) == refused);
  CHECK(release(mn, random_path()) == refused);
  CHECK(path_rows(db.url(), path) == "1");

  // The initiator lets it go: acknowledged once the row is gone, and the
  // responder is told to let it go too (the stranger is not).
  CHECK(release(mn, path) == "ack");
  CHECK(path_rows(db.url(), path) == "0");
  wire::ControlHeader told_h;
  auto told = cn.wait_for<wire::PathRelease>(2000, &told_h);
  REQUIRE(told);
  CHECK(told->path_id == path);
  cn.send(wire::PathReleaseAck{path}, told_h.txid);
  CHECK_FALSE(stranger.wait_for<wire::PathRelease>(200));
  CHECK_FALSE(mn.wait_for<wire::PathRelease>(10));
  // Its retransmission, and the responder's own release, are acknowledged.
  CHECK(release(mn, path) == "ack");
  CHECK(release(cn, path) == "ack");
  // The stranger still learns nothing.
  CHECK(release(stranger, path) == refused);

  // The re-key pass (path_rekey_s = 2) would have re-directed it by now.
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(3500));
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(100));
  CHECK(path_rows(db.url(), path) == "0");

  // A new direction between the two is a new path, as after any lookup.
  const wire::PathId again = random_path();
  mn.send(wire::DirectionRequest{again, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(accept_direction(cn));
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->path_id == again);
  CHECK(to_mn->key_epoch == 0);

  REQUIRE(dc.stop() == 0);
  CHECK(counter(dc.log(), "releases") == 1);
  CHECK(counter(dc.log(), "releases_repeated") == 2);
  CHECK(counter(dc.log(), "releases_refused") == 4);
  CHECK(counter(dc.log(), "rekeys") == 0);
  CHECK(counter(dc.log(), "releases_told") == 1);
  CHECK(counter(dc.log(), "unexpected") == 0);  // CN's ack to the DC's release is expected
}

TEST_CASE("path release: a path being directed is not released until its direction ends") {
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
  // CN has its Route Direction but has not acknowledged it: the direction
  // is in flight, and a release now is not answered.
  wire::ControlHeader h;
  auto to_cn = cn.wait_for<wire::RouteDirection>(3000, &h);
  REQUIRE(to_cn);
  CHECK(release(mn, path, 1500) == "silence");
  cn.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn.local()}, h.txid);
  REQUIRE(accept_direction(mn));
  REQUIRE(query_until(db.url(), "SELECT state FROM paths", "2") == "2");
  // Now it goes.
  CHECK(release(mn, path) == "ack");
  CHECK(path_rows(db.url(), path) == "0");
  REQUIRE(dc.stop() == 0);
  CHECK(counter(dc.log(), "releases_deferred") >= 1);
}

TEST_CASE("cluster: a path released at one member is no longer re-keyed by the other") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  auto options = [&] {
    DcProcess::Options o(db.url());
    o.dc_id = "0123456789abcdef0123456789abcdef";
    o.timers_extra = "path_rekey_s = 2\n";
    return o;
  };
  DcProcess a(options()), b(options());
  a.set_cluster({a.endpoint(), b.endpoint()});
  b.set_cluster({a.endpoint(), b.endpoint()});
  a.start();
  b.start();
  const auto mc = a.enroll("mn.test.example");
  const auto cc = a.enroll("cn.test.example");
  NodeClient mn(mc, a.endpoint(), ep("127.0.0.2", 0));
  NodeClient cn(cc, a.endpoint(), ep("127.0.0.3", 0));
  const auto from_b = b.log().size();
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  REQUIRE(b.wait_log("cluster: mn.test.example registered at", 2000, from_b));
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.test.example"}, false});
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(query_until(db.url(), "SELECT state FROM paths", "2") == "2");

  // CN lets it go at B (any member answers any node); A, which re-keys the
  // path (its initiator is homed there), learns of the deletion from B's note.
  const auto b_before = b.log().size();
  NodeClient cn_at_b(cc, b.endpoint(), ep("127.0.0.3", 0));
  CHECK(release(cn_at_b, path) == "ack");
  CHECK(b.log().find("released by cn.test.example", b_before) != std::string::npos);
  CHECK(path_rows(db.url(), path) == "0");
  // B tells MN, through the binding MN keeps towards every member.
  auto told = mn.wait_for<wire::PathRelease>(2000);
  REQUIRE(told);
  CHECK(told->path_id == path);
  // Past the re-key age (2 s from the end of the direction): no re-key.
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(4000));
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(100));
  // MN's own release, at A, finds nothing there: refused with the
  // stranger's words (A does not remember B's releases), and MN stops asking.
  CHECK(release(mn, path) == "not_authorized: no such path of yours");
  REQUIRE(a.stop() == 0);
  REQUIRE(b.stop() == 0);
  CHECK(counter(a.log(), "rekeys") == 0);
  CHECK(counter(b.log(), "releases") == 1);
}
