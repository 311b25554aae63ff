// SPDX-License-Identifier: MIT
// Federation between two real ntm-dc processes (docs/federation.md): DC_A
// serves a.test, DC_B serves b.test, each on its own throwaway database,
// peers of each other with one shared key.  DC_A's resolver is a small DNS
// server in this test that publishes the NTMobile marker the way DC_B's
// PowerDNS would ("v=ntm1 dc=<DC_B>").  Protocol-level nodes: MN at DC_A,
// CN at DC_B.  Then the bad inputs: forged, replayed and unknown-DC
// messages, a peer speaking outside its zones, slow and garbage peers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "../unit/dc/dns_bytes.hpp"
#include "dc_helpers.hpp"
#include "federation_helpers.hpp"
#include "federation/peer.hpp"
#include "federation/txt_message.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/common/udp_socket.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;
namespace federation = ntm::dc::federation;
namespace config = ntm::dc::config;
namespace asio = boost::asio;
namespace tdns = ntm::test::dns;

namespace {

// A pdns_server in front of a DC's DNS socket (as tests/dns starts it: the
// remote backend, no caches), on a free loopback port.
class Pdns {
 public:
  static bool available() {
    return ::access("/usr/sbin/pdns_server", X_OK) == 0 &&
           std::filesystem::exists("/usr/lib/x86_64-linux-gnu/pdns/libremotebackend.so");
  }
  Pdns(const std::filesystem::path& socket, const std::filesystem::path& dir)
      : dir_(dir), port_(free_udp_port()) {
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args{
        "/usr/sbin/pdns_server", "--no-config", "--guardian=no", "--daemon=no",
        "--disable-syslog", "--write-pid=no", "--socket-dir=" + dir_.string(), "--launch=remote",
        "--remote-connection-string=unix:path=" + socket.string() + ",timeout=2000",
        "--remote-dnssec=no", "--local-address=127.0.0.1", "--local-port=" + std::to_string(port_),
        "--cache-ttl=0", "--query-cache-ttl=0", "--negquery-cache-ttl=0",
        "--consistent-backends=yes", "--receiver-threads=1", "--distributor-threads=1",
        "--security-poll-suffix=", "--webserver=no", "--api=no", "--loglevel=3"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, (dir_ / "pdns.log").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    REQUIRE(::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Pdns() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  wire::Endpoint endpoint() const {
    wire::Endpoint e;
    (void)wire::IpAddr::parse("127.0.0.1", e.addr);
    e.port = static_cast<std::uint16_t>(port_);
    return e;
  }
  // Waits until it answers name's TXT with anything but an error.
  bool wait_ready(const std::string& name, int timeout_ms = 10000);

 private:
  std::filesystem::path dir_;
  unsigned port_;
  pid_t pid_ = -1;
};

// Both DCs, peered, and the DNS DC_A asks.
struct Federation {
  TestDatabase db_a, db_b;
  DcProcess a, b;
  UdpServer dns;
  std::string key = random_key_hex();
  std::string id_a, id_b;

  // b_by_dns: DC_B has no endpoints for DC_A either, and finds it through
  // the marker of a name in a.test (the DNS publishes both zones).
  // timers: more [timers] lines for both DCs.
  explicit Federation(const std::string& extra_a = {}, bool b_by_dns = false,
                      const std::string& timers = {})
      : a(opts(db_a.url(), "a.test", timers)), b(opts(db_b.url(), "b.test", timers)) {
    id_a = dc_id_of(a);
    id_b = dc_id_of(b);
    append(a, "[federation]\nresolver = " + dns.endpoint().to_string() +
                  "\ndns_timeout_ms = 200\npeer_timeout_ms = 600\n"
                  "[peer.b]\ndc_id = " + id_b + "\nkey = " + key + "\nzones = b.test\n" + extra_a);
    if (b_by_dns) {
      append(b, "[federation]\nresolver = " + dns.endpoint().to_string() +
                    "\ndns_timeout_ms = 200\npeer_timeout_ms = 600\n"
                    "[peer.a]\ndc_id = " + id_a + "\nkey = " + key + "\nzones = a.test\n");
      dns.set_handler(zone_dns({{"b.test", b.endpoint()}, {"a.test", a.endpoint()}}));
      return;
    }
    // DC_B finds DC_A by configuration alone (it only answers).
    append(b, "[peer.a]\ndc_id = " + id_a + "\nkey = " + key + "\nzones = a.test\nendpoints = " +
                  a.endpoint().to_string() + "\n");
    dns.set_handler(zone_dns({{"b.test", b.endpoint()}}));
  }
  static DcProcess::Options opts(const std::string& url, const std::string& zone,
                                 const std::string& timers = {}) {
    DcProcess::Options o(url);
    o.zones = zone;
    o.timers_extra = timers;
    o.direction_timeout_ms = 1500;
    return o;
  }
};

// DC_A a cluster of two processes (a1, a2) on one database, finding DC_B
// through DNS; DC_B one process that knows DC_A by one member's endpoint.
struct ClusterA {
  TestDatabase db_a, db_b;
  DcProcess a1, a2, b;
  UdpServer dns;
  std::string key = random_key_hex();
  static constexpr const char* kDcId = "0123456789abcdef0123456789abcdef";

  explicit ClusterA(bool b_knows_a2)
      : a1(opts_a(db_a.url())), a2(opts_a(db_a.url())), b(Federation::opts(db_b.url(), "b.test")) {
    a1.set_cluster({a1.endpoint(), a2.endpoint()});
    a2.set_cluster({a1.endpoint(), a2.endpoint()});
    for (DcProcess* a : {&a1, &a2})
      append(*a, "[federation]\nresolver = " + dns.endpoint().to_string() +
                     "\ndns_timeout_ms = 200\npeer_timeout_ms = 600\n"
                     "[peer.b]\ndc_id = " + dc_id_of(b) + "\nkey = " + key + "\nzones = b.test\n");
    append(b, std::string("[peer.a]\ndc_id = ") + kDcId + "\nkey = " + key +
                  "\nzones = a.test\nendpoints = " +
                  (b_knows_a2 ? a2 : a1).endpoint().to_string() + "\n");
    dns.set_handler(zone_dns({{"b.test", b.endpoint()}}));
  }
  static DcProcess::Options opts_a(const std::string& url) {
    DcProcess::Options o = Federation::opts(url, "a.test");
    o.dc_id = kDcId;
    return o;
  }
};

// DC_A's answer to the test acting as DC_B: the refusal a stranger's path
// gets, whatever the path.
void check_refused(federation::Peer& as_b, const std::optional<std::vector<std::uint8_t>>& reply,
                   wire::MsgType ref) {
  REQUIRE(reply);
  wire::Received r;
  REQUIRE(as_b.open(*reply, r) == wire::Error::ok);
  REQUIRE(std::holds_alternative<wire::ErrorReply>(r.body));
  const auto& e = std::get<wire::ErrorReply>(r.body);
  CHECK(e.code == wire::ErrorCode::not_authorized);
  CHECK(e.ref_type == ref);
  CHECK(e.reason.value == "no such path of yours");
}

bool Pdns::wait_ready(const std::string& name, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 100) {
    if (auto r = exchange(endpoint(), federation::build_txt_query(name, 7), 100)) {
      const auto a = federation::parse_txt_response(*r, name, 7);
      if (a.status == federation::TxtStatus::ok) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::optional<wire::ErrorReply> error_for(NodeClient& mn, const wire::DirectionRequest& req,
                                          int timeout_ms) {
  mn.send(req);
  return mn.wait_for<wire::ErrorReply>(timeout_ms);
}

// MN directs a path to cn.b.test and both ends acknowledge; its ID.
wire::PathId direct_to_cn(NodeClient& mn, NodeClient& cn) {
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  return path;
}

// The test as one member of DC_B's cluster, on its own socket: what it
// sends DC_A and what DC_A sends it.
struct FakeMember {
  federation::Peer as_b;
  common::UdpSocket sock{wire::Endpoint{wire::IpAddr::v4(0x7f000001), 0}};
  explicit FakeMember(const Federation& f) : as_b(fake_dc(f.id_b, f.id_a, f.key, "a.test")) {}
  void send(const wire::Body& body, std::uint32_t txid, const wire::Endpoint& to) {
    REQUIRE(sock.send(as_b.seal(body, txid), to));
  }
  std::optional<wire::Received> next(int timeout_ms) {
    pollfd p{sock.fd(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    std::array<std::uint8_t, 2048> buf{};
    wire::Endpoint from;
    const long n = sock.receive(buf, from);
    REQUIRE(n > 0);
    wire::Received r;
    REQUIRE(as_b.open(std::span<const std::uint8_t>(buf.data(), std::size_t(n)), r) ==
            wire::Error::ok);
    return r;
  }
};

}  // namespace

TEST_CASE("federation: MN at DC_A reaches CN at DC_B and both hold the K_path DC_B re-sealed") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), cn(cc, f.b.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());

  const wire::PathId path = random_path();
  const auto t0 = common::mono_ms();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  // CN hears from its own DC, never from DC_A.
  wire::ControlHeader h;
  auto to_cn = cn.wait_for<wire::RouteDirection>(3000, &h);
  REQUIRE(to_cn);
  CHECK(to_cn->you_are == wire::PathEnd::responder);
  CHECK(to_cn->path_id == path);
  CHECK(to_cn->initiator.fqdn.name == "mn.a.test");
  CHECK(to_cn->initiator.node_id == mc.id);
  CHECK(to_cn->initiator.dc == f.a.endpoint());
  CHECK(to_cn->responder.node_id == cc.id);
  CHECK(to_cn->responder.dc == f.b.endpoint());
  CHECK(to_cn->route == wire::RouteType::direct);
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(200));  // MN waits for CN's ack
  cn.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn.local()}, h.txid);

  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  const auto rtt = common::mono_ms() - t0;
  MESSAGE("cross-zone direction (cold DNS, incl. the test's CN ack): " << rtt << " ms");
  CHECK(to_mn->you_are == wire::PathEnd::initiator);
  CHECK(to_mn->responder.fqdn.name == "cn.b.test");
  CHECK(to_mn->responder.node_id == cc.id);
  CHECK(to_mn->peer_view == to_cn->responder.vip);
  // One K_path, sealed by DC_A to MN and by DC_B (after opening DC_A's
  // copy) to CN.
  const auto k_mn = mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key);
  const auto k_cn = cn.open_key(to_cn->path_key, path, 0, wire::SealedKind::path_key);
  CHECK(k_mn.equals(k_cn));
  CHECK_THROWS(mn.open_key(to_cn->path_key, path, 0, wire::SealedKind::path_key));

  // The two ends talk under it: a Tunnel Request from MN opens at CN, and
  // CN's Tunnel Response at MN.
  wire::ChannelConfig ci;
  ci.domain = wire::KeyDomain::path;
  ci.tx_role = wire::Role::initiator;
  ci.rx_role = wire::Role::responder;
  ci.tx_id = ci.rx_id = path.bytes;
  ci.instance = 1;
  wire::ChannelConfig cr = ci;
  cr.tx_role = wire::Role::responder;
  cr.rx_role = wire::Role::initiator;
  cr.instance = 2;
  wire::ControlChannel at_mn(k_mn, ci), at_cn(k_cn, cr);
  std::vector<std::uint8_t> buf(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  wire::TunnelRequest treq;
  treq.sender = mc.id;
  treq.receiver = cc.id;
  treq.sender_vip = to_cn->initiator.vip;
  treq.receiver_vip = to_mn->peer_view;
  std::size_t n = at_mn.seal(treq, 5, common::wall_ms(), buf, err);
  REQUIRE(n > 0);
  wire::Received got;
  REQUIRE(at_cn.open({buf.data(), n}, common::wall_ms(), got) == wire::Error::ok);
  REQUIRE(std::holds_alternative<wire::TunnelRequest>(got.body));
  CHECK(std::get<wire::TunnelRequest>(got.body).sender == mc.id);
  wire::TunnelResponse tresp;
  tresp.sender = cc.id;
  n = at_cn.seal(tresp, 5, common::wall_ms(), buf, err);
  REQUIRE(n > 0);
  CHECK(at_mn.open({buf.data(), n}, common::wall_ms(), got) == wire::Error::ok);

  REQUIRE(f.a.wait_log("established", 3000));
  REQUIRE(f.b.wait_log("established", 3000));
  // Federated paths are rows at both DCs, marked remote (migration 0004).
  CHECK(query_until(f.db_a.url(), "SELECT count(*) FROM paths WHERE remote", "1") == "1");
  CHECK(query_until(f.db_b.url(), "SELECT count(*) FROM paths WHERE remote", "1") == "1");

  // MN asks for a re-direction of the federated path: DC_A asks DC_B
  // again and forwards the next key epoch; CN and MN get epoch 1.
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, true});
  std::optional<wire::RouteDirection> again;
  for (int i = 0; i < 10 && !(again && again->key_epoch == 1); ++i) again = accept_direction(cn);
  REQUIRE(again);
  CHECK(again->key_epoch == 1);
  std::optional<wire::RouteDirection> again_mn;
  for (int i = 0; i < 10 && !(again_mn && again_mn->key_epoch == 1); ++i)
    again_mn = accept_direction(mn);
  REQUIRE(again_mn);
  CHECK(again_mn->key_epoch == 1);
  CHECK(mn.open_key(again_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn.open_key(again->path_key, path, 1, wire::SealedKind::path_key)));

  // Warm: the marker is cached only for its TTL (0 here), so this asks
  // DNS again; a second path follows the same way.
  const wire::PathId path2 = random_path();
  mn.send(wire::DirectionRequest{path2, wire::Fqdn{"cn.b.test"}, false});
  // (Copies of the first path's Route Direction, retransmitted while the
  // test held CN's ack back, may still wait in CN's socket.)
  auto accept_path = [](NodeClient& node, const wire::PathId& p) {
    for (int i = 0; i < 10; ++i)
      if (auto rd = accept_direction(node); !rd || rd->path_id == p) return rd.has_value();
    return false;
  };
  CHECK(accept_path(cn, path2));
  CHECK(accept_path(mn, path2));
  // The new path supersedes the first at both DCs, as between local nodes.
  const std::string only = "SELECT string_agg(encode(path_id, 'hex'), ',') FROM paths";
  CHECK(query_until(f.db_a.url(), only, path2.to_hex()) == path2.to_hex());
  CHECK(query_until(f.db_b.url(), only, path2.to_hex()) == path2.to_hex());

  // A name in DC_B's zone without a node: DC_B says so, MN hears it.
  auto e = error_for(mn, {random_path(), wire::Fqdn{"nobody.b.test"}, false}, 3000);
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::no_such_name);
}

TEST_CASE("federation: a name without a marker is a general host and a marker without trust is refused") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  f.a.start();
  f.b.start();
  f.dns.set_handler(zone_dns({{"b.test", f.b.endpoint()}, {"c.test", f.b.endpoint()}}));
  NodeClient mn(mc, f.a.endpoint());
  REQUIRE(mn.register_at());

  // NXDOMAIN for the TXT: the general-host path (which needs a relay here).
  auto e = error_for(mn, {random_path(), wire::Fqdn{"localhost"}, false}, 3000);
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::no_route);
  // A marker in a zone no peer is configured for.
  e = error_for(mn, {random_path(), wire::Fqdn{"cn.c.test"}, false}, 3000);
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::peer_dc_failed);
  CHECK(e->reason.value == "no trust configured for c.test");
  // DNS answering garbage, then nothing: the lookup ends (as no marker).
  f.dns.set_handler([](const std::vector<std::uint8_t>&) {
    return std::vector<std::vector<std::uint8_t>>{std::vector<std::uint8_t>(50, 0x5a)};
  });
  const auto t0 = common::mono_ms();
  e = error_for(mn, {random_path(), wire::Fqdn{"localhost"}, false}, 4000);
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::no_route);  // general host, after 3 x 200 ms
  CHECK(common::mono_ms() - t0 >= 550);
  CHECK(common::mono_ms() - t0 < 2000);
}

TEST_CASE("federation: a slow or garbage or out-of-zone peer ends in an Error within the bound") {
  NTM_REQUIRE_PG_OR_SKIP();
  UdpServer peer_c;  // answers as the test decides
  const std::string key_c = random_key_hex();
  const std::string id_c = "000000000000000000000000000000cc";
  Federation f("[peer.c]\ndc_id = " + id_c + "\nkey = " + key_c +
               "\nzones = c.test\nendpoints = " + peer_c.endpoint().to_string() + "\n");
  const auto mc = f.a.enroll("mn.a.test");
  f.a.start();
  f.dns.set_handler(zone_dns({{"c.test", peer_c.endpoint()}}));
  NodeClient mn(mc, f.a.endpoint());
  REQUIRE(mn.register_at());
  auto ask = [&](const std::string& name) {
    const auto t0 = common::mono_ms();
    auto e = error_for(mn, {random_path(), wire::Fqdn{name}, false}, 4000);
    return std::make_pair(e, common::mono_ms() - t0);
  };

  // Silent: peer_timeout_ms (600) plus the DNS lookup.
  auto [e, ms] = ask("cn.c.test");
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::peer_dc_failed);
  CHECK(ms >= 550);
  CHECK(ms < 1500);
  CHECK(peer_c.received() >= 2);  // retransmitted

  // Garbage answers, and answers sealed under a wrong key: dropped, the
  // exchange times out the same way.
  peer_c.set_handler([](const std::vector<std::uint8_t>& in) {
    auto junk = in;
    for (auto& b : junk) b ^= 0x33;
    return std::vector<std::vector<std::uint8_t>>{junk, std::vector<std::uint8_t>(3, 1)};
  });
  std::tie(e, ms) = ask("cn.c.test");
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::peer_dc_failed);
  CHECK(ms < 1500);

  // An authentic peer C that answers for another name, or with a node
  // outside its zones: refused at once.
  auto c = std::make_shared<federation::Peer>(fake_dc(id_c, f.id_a, key_c, "a.test"));
  std::string answer_as;
  std::mutex mu;
  peer_c.set_handler([&, c](const std::vector<std::uint8_t>& in) {
    std::lock_guard lock(mu);
    wire::Received r;
    if (c->open(in, r) != wire::Error::ok) return std::vector<std::vector<std::uint8_t>>{};
    const auto* qp = std::get_if<wire::NodeInfoRequest>(&r.body);
    if (!qp) return std::vector<std::vector<std::uint8_t>>{};
    const auto& q = *qp;
    wire::NodeInfoResponse resp;
    resp.target = wire::Fqdn{answer_as.empty() ? q.target.name : "other.c.test"};
    wire::PeerNode n;
    n.info.node_id.bytes[0] = 1;
    n.info.fqdn = answer_as.empty() ? wire::Fqdn{"evil.example"} : q.target;
    n.info.vip.addr = 0x64400009;
    n.online = true;
    resp.node = n;
    std::vector<std::vector<std::uint8_t>> out;
    out.push_back(c->seal(resp, r.header.txid));
    return out;
  });
  {
    std::lock_guard lock(mu);
    answer_as = "";  // node fqdn outside c.test
  }
  std::tie(e, ms) = ask("cn.c.test");
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::peer_dc_failed);
  CHECK(e->reason.value == "peer DC gave an unusable answer");
  CHECK(ms < 500);
  {
    std::lock_guard lock(mu);
    answer_as = "other";  // the response names another target
  }
  std::tie(e, ms) = ask("cn.c.test");
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::peer_dc_failed);
  CHECK(e->reason.value == "peer DC answered for another name");

  REQUIRE(f.a.stop() == 0);
  CHECK(f.a.wait_log("federation: peer c received=", 1000));
  const std::string log = f.a.log();
  CHECK(log.find("timeouts=2") != std::string::npos);
  CHECK(log.find("refused=2") != std::string::npos);
}

TEST_CASE("federation: DC_B drops forged and replayed and unknown-DC messages and refuses outside its zones") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto cc = f.b.enroll("cn.b.test");
  f.b.start();
  NodeClient cn(cc, f.b.endpoint());
  REQUIRE(cn.register_at());
  // The test as DC_A: it holds A's id and the shared key.
  auto as_a = fake_dc(f.id_a, f.id_b, f.key, "b.test");
  const auto ask = as_a.seal(wire::NodeInfoRequest{{"cn.b.test"}, {"mn.a.test"}}, 41);
  auto reply = exchange(f.b.endpoint(), ask);
  REQUIRE(reply);
  wire::Received r;
  REQUIRE(as_a.open(*reply, r) == wire::Error::ok);
  const auto& info = std::get<wire::NodeInfoResponse>(r.body);
  REQUIRE(info.node);
  CHECK(info.node->info.node_id == cc.id);
  CHECK(info.node->online);
  CHECK(r.header.txid == 41);

  // Replayed: nothing.
  CHECK_FALSE(exchange(f.b.endpoint(), ask, 400));
  // Forged (one bit): nothing.
  auto forged = as_a.seal(wire::NodeInfoRequest{{"cn.b.test"}, {"mn.a.test"}}, 42);
  forged[60] ^= 0x01;
  CHECK_FALSE(exchange(f.b.endpoint(), forged, 400));
  // An unknown DC, even with the right key: nothing.
  auto stranger = fake_dc("0000000000000000000000000000dead", f.id_b, f.key, "b.test");
  CHECK_FALSE(exchange(f.b.endpoint(),
                       stranger.seal(wire::NodeInfoRequest{{"cn.b.test"}, {"x.dead.test"}}, 43),
                       400));
  // Authentic, but for a requester outside A's zones, or a name outside B's.
  for (const auto& [target, requester] :
       std::vector<std::pair<std::string, std::string>>{{"cn.b.test", "mn.evil.test"},
                                                        {"mn.a.test", "mn.a.test"}}) {
    reply = exchange(f.b.endpoint(),
                     as_a.seal(wire::NodeInfoRequest{{target}, {requester}}, 44));
    REQUIRE(reply);
    REQUIRE(as_a.open(*reply, r) == wire::Error::ok);
    REQUIRE(std::holds_alternative<wire::ErrorReply>(r.body));
    CHECK(std::get<wire::ErrorReply>(r.body).code == wire::ErrorCode::not_authorized);
  }
  // A Route Forward whose key was not sealed to B: refused, CN never hears.
  wire::RouteForward fwd;
  fwd.target = cc.id;
  fwd.direction.path_id = random_path();
  fwd.direction.you_are = wire::PathEnd::responder;
  fwd.direction.initiator.fqdn = wire::Fqdn{"mn.a.test"};
  fwd.direction.initiator.node_id.bytes[0] = 7;
  fwd.direction.initiator.vip.addr = 0x64400001;
  fwd.direction.responder = info.node->info;
  fwd.direction.peer_view = fwd.direction.initiator.vip;
  reply = exchange(f.b.endpoint(), as_a.seal(fwd, 45));
  REQUIRE(reply);
  REQUIRE(as_a.open(*reply, r) == wire::Error::ok);
  REQUIRE(std::holds_alternative<wire::ErrorReply>(r.body));
  CHECK(std::get<wire::ErrorReply>(r.body).reason.value == "a sealed key does not open");
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(300));

  REQUIRE(f.b.stop() == 0);
  const std::string log = f.b.log();
  CHECK(log.find("auth_failed=1 replayed=1") != std::string::npos);
  CHECK(log.find("refused=3") != std::string::npos);
  CHECK(log.find("dropped 1 x unknown_key") != std::string::npos);
}

TEST_CASE("federation: an authentic peer that floods DC_B is cut to its rate, counted") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  append(f.b, "[limits]\nrate_per_peer = 5\n");  // a burst of 10, then 5 a second
  const auto cc = f.b.enroll("cn.b.test");
  f.b.start();
  NodeClient cn(cc, f.b.endpoint());
  REQUIRE(cn.register_at());
  auto as_a = fake_dc(f.id_a, f.id_b, f.key, "b.test");
  // 40 authentic, distinct requests at once, from one socket.
  common::UdpSocket sock(ep("127.0.0.1", 0));
  for (std::uint32_t i = 0; i < 40; ++i)
    REQUIRE(sock.send(as_a.seal(wire::NodeInfoRequest{{"cn.b.test"}, {"mn.a.test"}}, 100 + i),
                      f.b.endpoint()));
  std::size_t answers = 0;
  std::vector<std::uint8_t> buf(2048);
  const auto until = common::mono_ms() + 600;
  while (common::mono_ms() < until) {
    wire::Endpoint from;
    const long n = sock.receive(buf, from);
    if (n < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    wire::Received r;
    if (as_a.open({buf.data(), static_cast<std::size_t>(n)}, r) == wire::Error::ok &&
        std::holds_alternative<wire::NodeInfoResponse>(r.body))
      ++answers;
  }
  MESSAGE("answered " << answers << " of 40");
  CHECK(answers >= 10);  // the burst
  CHECK(answers <= 14);  // and what 5/s refills meanwhile
  REQUIRE(f.b.stop() == 0);
  std::smatch m;
  const std::string log = f.b.log();
  REQUIRE(std::regex_search(log, m, std::regex("federation: peer a .*rate_limited=([0-9]+)")));
  CHECK(std::stoul(m[1].str()) + answers == 40);
}

TEST_CASE("federation: DC_A finds DC_B through DC_B's PowerDNS") {
  NTM_REQUIRE_PG_OR_SKIP();
  if (!Pdns::available()) {
    MESSAGE("SKIP: pdns_server with the remote backend is not installed");
    return;
  }
  Federation f;
  const auto sock = f.b.state_dir() / "pdns.sock";
  append(f.b, "[dns]\nsocket = " + sock.string() + "\nnameservers = ns1.b.test\n");
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), cn(cc, f.b.endpoint());
  REQUIRE(cn.register_at());
  Pdns pdns(sock, f.b.state_dir() / "pdns");
  REQUIRE(pdns.wait_ready("cn.b.test"));
  // DC_A asks DC_B's authoritative server directly (no recursion here; the
  // netns testbed has the recursive set-up).
  {
    std::string text;
    std::ifstream in(f.a.config_path());
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const auto at = text.find("resolver = ");
    REQUIRE(at != std::string::npos);
    const auto eol = text.find('\n', at);
    text.replace(at, eol - at, "resolver = " + pdns.endpoint().to_string());
    std::ofstream(f.a.config_path(), std::ios::trunc) << text;
  }
  f.a.start();
  REQUIRE(mn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  CHECK(to_cn->initiator.fqdn.name == "mn.a.test");
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->responder.dc == f.b.endpoint());
  CHECK(mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key)
            .equals(cn.open_key(to_cn->path_key, path, 0, wire::SealedKind::path_key)));
  REQUIRE(f.a.stop() == 0);
  CHECK(f.a.log().find("federation: dns queries=1") != std::string::npos);
}

TEST_CASE("federation: MN moves and DC_A asks DC_B again and forwards the next key epoch") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.1", 0));
  NodeClient mn(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(cn.register_at({ep("192.168.1.20", 4512)}));  // CN behind NAT
  REQUIRE(mn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  auto first = accept_direction(cn);
  REQUIRE(first);
  CHECK(first->first == wire::FirstSender::responder);
  REQUIRE(accept_direction(mn));
  REQUIRE(f.a.wait_log("established", 3000));

  // MN moves G -> G: the CN behind NAT must send first to MN's new
  // address, which only a new direction tells it (as for a local path).
  const std::size_t from = f.a.log().size();
  NodeClient mn2(mc, f.a.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn2.register_at({}, wire::RegistrationReason::move));
  std::optional<wire::RouteDirection> to_cn;
  for (int i = 0; i < 10 && !(to_cn && to_cn->key_epoch == 1); ++i) to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  CHECK(to_cn->key_epoch == 1);
  CHECK(to_cn->initiator.real == mn2.local());
  auto to_mn = accept_direction(mn2);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 1);
  CHECK(mn2.open_key(to_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn.open_key(to_cn->path_key, path, 1, wire::SealedKind::path_key)));
  CHECK(f.a.wait_log("asking peer b", 1000, from));
}

TEST_CASE("federation: MN moves while DC_A directs its path, and DC_A directs it again for where MN is now") {
  NTM_REQUIRE_PG_OR_SKIP();
  // Seen in the namespace testbed: a registration sent while the node's
  // addresses changed made DC_A put the path on the relay, and the right
  // one came while that direction ran.  The move noted during a federated
  // direction was dropped (the CN is not in DC_A's view), and the path
  // stayed on the wrong route.
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.1", 0));
  NodeClient mn(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(cn.register_at({ep("192.168.1.20", 4512)}));  // CN behind NAT: it sends first
  REQUIRE(mn.register_at());
  const wire::PathId path = direct_to_cn(mn, cn);
  REQUIRE(f.a.wait_log("established", 3000));

  // MN asks for a re-direction; CN takes its Route Direction but does not
  // acknowledge it yet, so DC_A's direction is still running when MN
  // registers from a new address.
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, true});
  wire::ControlHeader h1;
  const auto first = cn.wait_for<wire::RouteDirection>(3000, &h1);
  REQUIRE(first);
  CHECK(first->key_epoch == 1);
  CHECK(first->initiator.real == mn.local());  // decided before the move
  NodeClient mn2(mc, f.a.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn2.register_at({}, wire::RegistrationReason::move));
  cn.send(wire::RouteDirectionAck{path, 1, wire::Status::ok, cn.local()}, h1.txid);
  REQUIRE(accept_direction(mn2));  // epoch 1 reaches MN where it is now

  // Once that direction ends, DC_A asks DC_B again and directs the path
  // for MN's new address: CN (behind NAT) must send first to it.
  std::optional<wire::RouteDirection> again;
  for (int i = 0; i < 10 && !(again && again->key_epoch == 2); ++i) again = accept_direction(cn);
  REQUIRE(again);
  CHECK(again->key_epoch == 2);
  CHECK(again->initiator.real == mn2.local());
  CHECK(again->first == wire::FirstSender::responder);
  const auto to_mn = accept_direction(mn2);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 2);
}

TEST_CASE("federation: clashing VIPs get substitutes at both DCs, and restarts keep the path and its views") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  // The two pools overlap: MN's VIP is CN's too, so each end's peer has
  // its own address in that end's view.
  const std::string cn_vip = query1(f.db_b.url(), "SELECT host(vip) FROM nodes");
  execute(f.db_a.url(), "UPDATE nodes SET vip = '" + cn_vip + "'");
  f.a.start();
  f.b.start();
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.1", 0));
  NodeClient mn(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(cn.register_at({ep("192.168.1.20", 4512)}));  // CN behind NAT: MN's move re-directs
  REQUIRE(mn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  const auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  const auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  REQUIRE(f.a.wait_log("established", 3000));
  REQUIRE(f.b.wait_log("established", 3000));
  CHECK(wire::Vip{to_cn->responder.vip}.to_string() == cn_vip);
  CHECK(to_mn->responder.vip == to_cn->initiator.vip);  // the clash
  // MN's address for CN is not its own VIP; nor is CN's for MN.
  CHECK(to_mn->peer_view != to_mn->initiator.vip);
  CHECK(to_cn->peer_view != to_cn->responder.vip);
  CHECK(to_cn->peer_view.addr != 0);
  // Both are stored with the path, at the DC that chose them (written
  // behind the answers: waited for).
  const std::string mn_view = wire::Vip{to_mn->peer_view}.to_string();
  const std::string cn_view = wire::Vip{to_cn->peer_view}.to_string();
  CHECK(query_until(f.db_a.url(), "SELECT host(initiator_view) FROM paths WHERE remote",
                    mn_view) == mn_view);
  CHECK(query_until(f.db_b.url(), "SELECT host(responder_view) FROM paths WHERE remote",
                    cn_view) == cn_view);

  // Both DCs restart.  MN then moves G -> G: CN must send first to MN's new
  // address, so DC_A re-directs the path it loaded under the next epoch
  // (not afresh), and neither end's address for its peer changes.
  CHECK(f.a.stop() == 0);
  CHECK(f.b.stop() == 0);
  const std::size_t mark_a = f.a.log().size(), mark_b = f.b.log().size();
  f.a.start();
  f.b.start();
  CHECK(f.a.wait_log("1 paths loaded", 100, mark_a));
  CHECK(f.b.wait_log("1 paths loaded", 100, mark_b));
  REQUIRE(cn.register_at({ep("192.168.1.20", 4512)}));
  NodeClient mn2(mc, f.a.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn2.register_at({}, wire::RegistrationReason::move));
  std::optional<wire::RouteDirection> again_cn;
  for (int i = 0; i < 10 && !(again_cn && again_cn->key_epoch == 1); ++i)
    again_cn = accept_direction(cn);
  if (!again_cn) MESSAGE("DC_A:\n" << f.a.log().substr(mark_a) << "\nDC_B:\n" << f.b.log().substr(mark_b));
  REQUIRE(again_cn);
  CHECK(again_cn->key_epoch == 1);
  CHECK(again_cn->initiator.real == mn2.local());
  CHECK(again_cn->peer_view == to_cn->peer_view);
  const auto again_mn = accept_direction(mn2);
  REQUIRE(again_mn);
  CHECK(again_mn->key_epoch == 1);
  CHECK(again_mn->peer_view == to_mn->peer_view);
  CHECK(mn2.open_key(again_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn.open_key(again_cn->path_key, path, 1, wire::SealedKind::path_key)));
}

TEST_CASE("federation: a path one member of DC_A's cluster made is re-directed by the other") {
  NTM_REQUIRE_PG_OR_SKIP();
  // DC_A is a cluster of two processes on one database; DC_B is one.
  ClusterA f(/*b_knows_a2=*/false);
  DcProcess &a1 = f.a1, &a2 = f.a2, &b = f.b;
  const auto mc = a1.enroll("mn.a.test");
  const auto cc = b.enroll("cn.b.test");
  a1.start();
  a2.start();
  b.start();
  NodeClient cn(cc, b.endpoint(), ep("127.0.0.1", 0));
  NodeClient mn(mc, a1.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(cn.register_at({ep("192.168.1.20", 4512)}));  // CN behind NAT: MN's move re-directs
  REQUIRE(mn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  const auto first = accept_direction(cn);
  REQUIRE(first);
  REQUIRE(accept_direction(mn));
  REQUIRE(a1.wait_log("established", 3000));
  // The row reaches a2 in a1's pathw note (it logs nothing for that): wait
  // for the write, then for a2's listener.
  REQUIRE(query_until(f.db_a.url(), "SELECT count(*) FROM paths WHERE remote AND state = 2", "1") ==
          "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // MN moves and registers at a2, which never saw the direction and has
  // not learnt DC_B's endpoint: it finds DC_B through DNS and re-directs
  // the path under the next epoch.
  const std::size_t from = a2.log().size();
  NodeClient mn2(mc, a2.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn2.register_at({}, wire::RegistrationReason::move));
  std::optional<wire::RouteDirection> to_cn;
  for (int i = 0; i < 10 && !(to_cn && to_cn->key_epoch == 1); ++i) to_cn = accept_direction(cn);
  if (!to_cn || to_cn->key_epoch != 1) MESSAGE("a2:\n" << a2.log().substr(from));
  REQUIRE(to_cn);
  CHECK(to_cn->key_epoch == 1);
  CHECK(to_cn->initiator.real == mn2.local());
  CHECK(to_cn->peer_view == first->peer_view);
  const auto to_mn = accept_direction(mn2);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 1);
  CHECK(mn2.open_key(to_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn.open_key(to_cn->path_key, path, 1, wire::SealedKind::path_key)));
  CHECK(a2.wait_log("asking peer b", 1000, from));
}

TEST_CASE("federation: CN moves, DC_B tells the member of DC_A that did not make the path, which re-directs it") {
  NTM_REQUIRE_PG_OR_SKIP();
  // DC_A is a cluster (a1, a2) that finds DC_B through DNS; DC_B knows
  // DC_A by a2 alone.  a1 makes the path; CN's move is told to a2, which
  // has never looked DC_B up: it must ask, and forward to, the member that
  // told it.
  ClusterA f(/*b_knows_a2=*/true);
  DcProcess &a1 = f.a1, &a2 = f.a2, &b = f.b;
  const auto mc = a1.enroll("mn.a.test");
  const auto rc = a1.enroll("relay.a.test", true);
  const auto cc = b.enroll("cn.b.test");
  a1.start();
  a2.start();
  b.start();
  NodeClient mn(mc, a1.endpoint(), ep("127.0.0.2", 0)), relay(rc, a1.endpoint());
  NodeClient cn(cc, b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));  // MN behind NAT
  REQUIRE(cn.register_at());                           // CN global
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  REQUIRE(accept_relay(relay, 50001));  // stand-by for the direct route
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(a1.wait_log("established", 3000));
  REQUIRE(query_until(f.db_a.url(), "SELECT count(*) FROM paths WHERE remote AND state = 2", "1") ==
          "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a2's listener

  // Acks go to the member that sent (as ntmd does).
  mn.set_dc(a2.endpoint());
  relay.set_dc(a2.endpoint());
  const std::size_t from_a2 = a2.log().size();
  NodeClient cn2(cc, b.endpoint(), ep("127.0.0.4", 0));
  REQUIRE(cn2.register_at({ep("10.0.0.2", 4512)}, wire::RegistrationReason::move));  // CN behind another NAT
  auto rd = accept_relay(relay, 50002);
  if (!rd) MESSAGE("a2:\n" << a2.log().substr(from_a2));
  REQUIRE(rd);
  const auto next = accept_next_epoch(cn2, mn, path);
  CHECK(next.to_cn.route == wire::RouteType::relay);
  CHECK(next.to_mn.route == wire::RouteType::relay);
  CHECK(a2.wait_log("peer b tells cn.b.test moved", 1000, from_a2));
  CHECK(a2.wait_log("re-directed: direct -> relay, key epoch 1", 1000, from_a2));
}

TEST_CASE("federation: a path left half-directed by DC_A's crash is directed afresh under a new epoch") {
  NTM_REQUIRE_PG_OR_SKIP();
  // CN got epoch 0's keys and never answered; DC_A died.  Directed afresh,
  // the path must not reuse epoch 0: CN would take it for a copy of the
  // direction it holds and keep its keys while MN got new ones (and DC_B
  // answers a Route Forward of an epoch it has just forwarded from memory).
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint());
  NodeClient cn(cc, f.b.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = random_path();
  const wire::DirectionRequest req{path, wire::Fqdn{"cn.b.test"}, false};
  mn.send(req);
  const auto first = cn.wait_for<wire::RouteDirection>(3000);  // not acknowledged
  REQUIRE(first);
  CHECK(first->key_epoch == 0);
  REQUIRE(query_until(f.db_a.url(), "SELECT state FROM paths", "1") == "1");  // directing
  f.a.kill9();
  // DC_B gives up on CN (its direction timeout, 1.5 s); DC_B's copies of
  // epoch 0 to CN are dropped.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  while (cn.wait_for<wire::RouteDirection>(100)) {
  }
  f.a.start();
  mn.send(req);
  wire::ControlHeader h;
  const auto to_cn = cn.wait_for<wire::RouteDirection>(3000, &h);
  REQUIRE(to_cn);
  CHECK(to_cn->key_epoch == 1);
  cn.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn.local()}, h.txid);
  const auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 1);
  CHECK(mn.open_key(to_mn->path_key, path, 1, wire::SealedKind::path_key)
            .equals(cn.open_key(to_cn->path_key, path, 1, wire::SealedKind::path_key)));
}

TEST_CASE("federation: both ends behind NAT go through DC_A's relay with K_rp re-sealed to CN") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto rc = f.a.enroll("relay.a.test", true);
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), relay(rc, f.a.endpoint()), cn(cc, f.b.endpoint());
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  // DC_A directs its own relay first, with CN as DC_B described it.
  auto rd = accept_relay(relay, 50001);
  REQUIRE(rd);
  CHECK(rd->mode == wire::RelayMode::forward);
  CHECK(rd->responder.node_id == cc.id);
  CHECK(rd->responder.fqdn.name == "cn.b.test");
  const auto k_rp = relay.open_key(rd->relay_key, path, 0, wire::SealedKind::relay_key);
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  for (const auto* d : {&*to_cn, &*to_mn}) {
    CHECK(d->route == wire::RouteType::relay);
    CHECK(d->relay == ep("127.0.0.1", 50001));
    REQUIRE(d->relay_key);
  }
  CHECK(cn.open_key(*to_cn->relay_key, path, 0, wire::SealedKind::relay_key).equals(k_rp));
  CHECK(mn.open_key(*to_mn->relay_key, path, 0, wire::SealedKind::relay_key).equals(k_rp));
  const auto k_path = cn.open_key(to_cn->path_key, path, 0, wire::SealedKind::path_key);
  CHECK(k_path.equals(mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key)));
  CHECK_FALSE(k_path.equals(k_rp));  // the relay never holds K_path
}

TEST_CASE("federation: CN moves behind a NAT, DC_B tells DC_A, which puts the path on its relay") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto rc = f.a.enroll("relay.a.test", true);
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), relay(rc, f.a.endpoint());
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));  // MN behind NAT
  REQUIRE(cn.register_at());                           // CN on a global address
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  // MN behind NAT: DC_A's relay stands by for the direct path.
  REQUIRE(accept_relay(relay, 50001));
  auto first = accept_direction(cn);
  REQUIRE(first);
  CHECK(first->route == wire::RouteType::direct);
  REQUIRE(accept_direction(mn));
  REQUIRE(f.a.wait_log("established", 3000));
  REQUIRE(f.b.wait_log("established", 3000));

  // CN moves behind another NAT: no direct route is left between two NATs,
  // and MN's NAT would drop CN's NTM Update from a new address.  Only DC_B
  // sees the move, only DC_A may re-direct.
  const std::size_t from_a = f.a.log().size(), from_b = f.b.log().size();
  NodeClient cn2(cc, f.b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(cn2.register_at({ep("10.0.0.2", 4512)}, wire::RegistrationReason::move));
  auto rd = accept_relay(relay, 50002);
  REQUIRE(rd);
  CHECK(rd->responder.node_id == cc.id);
  const auto next = accept_next_epoch(cn2, mn, path);
  CHECK(next.to_cn.route == wire::RouteType::relay);
  CHECK(next.to_cn.relay == ep("127.0.0.1", 50002));
  CHECK(next.to_mn.route == wire::RouteType::relay);
  CHECK(f.b.wait_log("that cn.b.test moved", 1000, from_b));
  CHECK(f.a.wait_log("peer b tells cn.b.test moved", 1000, from_a));

  // CN moves again, behind a third NAT: the relayed route stays (its own
  // NTM Update to the relay carries the move), so DC_A asks DC_B and leaves
  // the path as it is.
  const std::size_t again = f.a.log().size();
  NodeClient cn3(cc, f.b.endpoint(), ep("127.0.0.4", 0));
  REQUIRE(cn3.register_at({ep("10.0.1.2", 4512)}));
  CHECK(f.a.wait_log("stays relay after a move of cn.b.test", 3000, again));
  CHECK_FALSE(cn3.wait_for<wire::RouteDirection>(300));
}

TEST_CASE("federation: CN asks DC_B to re-direct a federated path and DC_A does, under the next epoch") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = direct_to_cn(mn, cn);
  REQUIRE(f.b.wait_log("established", 3000));

  // Not the other end's name: refused at DC_B, before any peer hears of it.
  cn.send(wire::DirectionRequest{path, wire::Fqdn{"other.a.test"}, true});
  auto err = cn.wait_for<wire::ErrorReply>(1000);
  REQUIRE(err);
  CHECK(err->code == wire::ErrorCode::bad_request);
  // Within a second of the direction, without a move, a request waits for
  // its retransmission (the hold-off of docs/dc.md "Moves"); after it, it
  // is passed on.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const wire::DirectionRequest redirect{path, wire::Fqdn{"mn.a.test"}, true};
  const std::uint32_t txid = cn.send(redirect);
  accept_next_epoch(cn, mn, path);
  CHECK(f.a.wait_log("peer b tells cn.b.test asks for a re-direction", 1000));
  // A retransmission of that request (same txid) after the hold-off: taken
  // already, so neither passed on nor re-directed again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  cn.send(redirect, txid);
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(800));
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(100));
}

TEST_CASE("federation: a restarted ntmd at either DC gets its federated path directed again by DC_A") {
  // A new ntmd process holds no path (docs/dc.md §8.4, "A node that
  // restarts").  CN's restart: DC_B asks DC_A to re-direct (only DC_A
  // directs the path); MN's: DC_A asks DC_B again, as for a re-key.  Both on
  // the same address: no move, only the new process's `start`.
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  auto mn = std::make_unique<NodeClient>(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  auto cn = std::make_unique<NodeClient>(cc, f.b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn->register_at());
  REQUIRE(cn->register_at());
  const wire::PathId path = direct_to_cn(*mn, *cn);
  REQUIRE(f.b.wait_log("established", 3000));
  REQUIRE(f.a.wait_log("established", 3000));

  auto restart = [](std::unique_ptr<NodeClient>& n, const sim::Credentials& c,
                    const wire::Endpoint& dc) {
    const wire::Endpoint at = n->local();
    n.reset();
    n = std::make_unique<NodeClient>(c, dc, at);
    return n->register_at();
  };
  std::size_t from_a = f.a.log().size();
  REQUIRE(restart(cn, cc, f.b.endpoint()));
  accept_next_epoch(*cn, *mn, path);
  CHECK(f.b.wait_log("cn.b.test restarted: its 1 paths are directed again", 1000));
  CHECK(f.a.wait_log("peer b tells cn.b.test asks for a re-direction", 1000, from_a));
  // Once per process: nothing more for this restart.
  CHECK_FALSE(cn->wait_for<wire::RouteDirection>(800));

  from_a = f.a.log().size();
  REQUIRE(restart(mn, mc, f.a.endpoint()));
  std::optional<wire::RouteDirection> to_cn;
  for (int i = 0; i < 10 && !(to_cn && to_cn->key_epoch == 2); ++i) to_cn = accept_direction(*cn);
  REQUIRE(to_cn);
  CHECK(to_cn->key_epoch == 2);
  const auto to_mn = accept_direction(*mn);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == 2);
  CHECK(to_mn->path_id == path);
  CHECK(mn->open_key(to_mn->path_key, path, 2, wire::SealedKind::path_key)
            .equals(cn->open_key(to_cn->path_key, path, 2, wire::SealedKind::path_key)));
  CHECK(f.a.wait_log("mn.a.test restarted: its 1 paths are directed again", 1000, from_a));
  CHECK_FALSE(mn->wait_for<wire::RouteDirection>(800));
}

TEST_CASE("federation: a Path Moved for a path that is not the peer's is refused, the same for every path") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint());
  NodeClient cn(cc, f.b.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = direct_to_cn(mn, cn);
  REQUIRE(f.a.wait_log("established", 3000));

  // The test as DC_B: the right key, but a path ID nobody has, and the real
  // path under another responder's name.  One answer for both.
  auto as_b = fake_dc(f.id_b, f.id_a, f.key, "a.test");
  std::uint32_t txid = 60;
  for (const auto& [id, name] : std::vector<std::pair<wire::PathId, std::string>>{
           {random_path(), "cn.b.test"}, {path, "other.b.test"}}) {
    check_refused(as_b,
                  exchange(f.a.endpoint(), as_b.seal(wire::PathMoved{id, {name}, true}, ++txid)),
                  wire::MsgType::path_moved);
  }
  // Neither end was re-directed.
  CHECK_FALSE(mn.wait_for<wire::RouteDirection>(300));
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(100));

  // The real one: acknowledged once; its retransmission (same txid) gets
  // the ack again and re-directs nothing more.
  const auto moved = as_b.seal(wire::PathMoved{path, {"cn.b.test"}, true}, 70);
  for (int copy = 0; copy < 2; ++copy) {
    // A retransmission is sealed afresh (a new counter) under the same txid.
    const auto reply =
        exchange(f.a.endpoint(), copy ? as_b.seal(wire::PathMoved{path, {"cn.b.test"}, true}, 70)
                                      : moved);
    REQUIRE(reply);
    wire::Received r;
    REQUIRE(as_b.open(*reply, r) == wire::Error::ok);
    REQUIRE(std::holds_alternative<wire::PathMovedAck>(r.body));
    CHECK(std::get<wire::PathMovedAck>(r.body).path_id == path);
    if (!copy) {
      // Under way: DC_A asks DC_B about CN (the real DC_B answers) and
      // forwards the next epoch.
      accept_next_epoch(cn, mn, path);
    }
  }
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(500));
  REQUIRE(f.a.stop() == 0);
  CHECK(f.a.log().find("refused=2") != std::string::npos);
}

TEST_CASE("federation: after a Path Moved DC_A asks the member that told, then the peer's endpoint") {
  NTM_REQUIRE_PG_OR_SKIP();
  // DC_B's cluster has a member whose view lags behind the one CN
  // registered at (LISTEN/NOTIFY): asked first, it would answer with CN
  // where it was, and the path would keep a route that no longer works.
  // The test is that other member: DC_A must ask it, the sender of the
  // Path Moved, and not the endpoint it knows DC_B by.
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint());
  NodeClient cn(cc, f.b.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = direct_to_cn(mn, cn);
  REQUIRE(f.a.wait_log("established", 3000));

  FakeMember member(f);
  member.send(wire::PathMoved{path, {"cn.b.test"}, false}, 80, f.a.endpoint());
  // What DC_A sends to this member: the ack, then its Node Info Requests.
  std::vector<wire::Body> got;
  std::uint32_t asked_txid = 0;
  for (int i = 0; i < 4; ++i) {
    const auto r = member.next(800);
    if (!r) break;
    if (std::holds_alternative<wire::NodeInfoRequest>(r->body)) {
      CHECK(std::get<wire::NodeInfoRequest>(r->body).target.name == "cn.b.test");
      if (asked_txid) CHECK(r->header.txid == asked_txid);  // a retransmission
      asked_txid = r->header.txid;
    }
    got.push_back(r->body);
  }
  REQUIRE(got.size() == 3);
  CHECK(std::holds_alternative<wire::PathMovedAck>(got[0]));
  CHECK(std::holds_alternative<wire::NodeInfoRequest>(got[1]));
  CHECK(std::holds_alternative<wire::NodeInfoRequest>(got[2]));
  // This member stays silent; the third send goes to the endpoint DC_A
  // knows (the real DC_B), whose answer shows CN where it is: no move that
  // changes the route, so the path stays as it was.
  CHECK(f.a.wait_log("stays direct after a move of cn.b.test", 3000));
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(200));
}

TEST_CASE("federation: a Path Moved during the path's direction is acknowledged and taken after it") {
  NTM_REQUIRE_PG_OR_SKIP();
  // DC_A re-directs the path (MN asks) and CN never acknowledges, so the
  // direction runs until DC_B gives up on CN (1,500 ms here), longer than
  // DC_B's peer_timeout_ms (600 ms): a Path Moved left unacknowledged
  // meanwhile would be lost.
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint());
  NodeClient cn(cc, f.b.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = direct_to_cn(mn, cn);
  REQUIRE(f.a.wait_log("established", 3000));

  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, true});
  const auto redirected = cn.wait_for<wire::RouteDirection>(2000);  // not acknowledged
  REQUIRE(redirected);
  CHECK(redirected->key_epoch == 1);

  FakeMember member(f);
  const std::size_t from_a = f.a.log().size();
  member.send(wire::PathMoved{path, {"cn.b.test"}, false}, 90, f.a.endpoint());
  const auto ack = member.next(500);
  REQUIRE(ack);
  REQUIRE(std::holds_alternative<wire::PathMovedAck>(ack->body));
  CHECK(std::get<wire::PathMovedAck>(ack->body).path_id == path);
  // Nothing yet: DC_A asks about CN only once the direction has ended.
  CHECK_FALSE(member.next(300));
  // It ends (CN silent, the path stays at epoch 0), and DC_A asks this
  // member, which told it.
  const auto asked = member.next(3000);
  REQUIRE(asked);
  REQUIRE(std::holds_alternative<wire::NodeInfoRequest>(asked->body));
  CHECK(std::get<wire::NodeInfoRequest>(asked->body).target.name == "cn.b.test");
  CHECK(f.a.wait_log("taken when the path's direction ends", 100, from_a));
  CHECK(f.a.wait_log("who moved during its direction", 100, from_a));
}

TEST_CASE("federation: after a restart DC_B finds DC_A through DNS to tell it that CN moved") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f({}, /*b_by_dns=*/true);
  const auto mc = f.a.enroll("mn.a.test");
  const auto rc = f.a.enroll("relay.a.test", true);
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), relay(rc, f.a.endpoint());
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(relay.register_at());
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at());
  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  REQUIRE(accept_relay(relay, 50001));
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(f.b.wait_log("established", 3000));

  // DC_B restarts: the path comes back from its database with MN's name,
  // and this process has heard nothing from DC_A.
  REQUIRE(f.b.stop() == 0);
  f.b.start();
  NodeClient cn2(cc, f.b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(cn2.register_at({ep("10.0.0.2", 4512)}, wire::RegistrationReason::move));
  REQUIRE(accept_relay(relay, 50002));
  CHECK(accept_next_epoch(cn2, mn, path).to_cn.route == wire::RouteType::relay);
  CHECK(f.b.wait_log("telling peer a at " + f.a.endpoint().to_string() + " that cn.b.test moved",
                     1000));
}

TEST_CASE("federation: DC_A re-keys a federated path by age through DC_B, DC_B never does") {
  NTM_REQUIRE_PG_OR_SKIP();
  // Both DCs would re-key after 2 s; only DC_MN may direct the path.
  Federation f({}, false, "path_rekey_s = 2\n");
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());
  const wire::PathId path = direct_to_cn(mn, cn);
  REQUIRE(f.a.wait_log("established", 3000));
  // Nobody moved or asked: epoch 1 reaches CN (through DC_B) and MN.
  const auto next = accept_next_epoch(cn, mn, path);
  CHECK(next.to_mn.route == wire::RouteType::direct);
  CHECK(next.to_cn.you_are == wire::PathEnd::responder);
  REQUIRE(f.a.stop() == 0);
  REQUIRE(f.b.stop() == 0);
  CHECK(f.a.log().find("rekeys=0") == std::string::npos);
  CHECK(f.a.log().find("rekeys=") != std::string::npos);
  CHECK(f.b.log().find("rekeys=0") != std::string::npos);
}

// Path Release across DCs (protocol.md §7.21): the DC of the end that lets
// the path go tells the other end's DC, which forgets it too and tells its
// end; a peer may release only a federated path whose other end it serves.
TEST_CASE("federation: a release at either end reaches the other DC, which forgets the path and tells its end") {
  NTM_REQUIRE_PG_OR_SKIP();
  Federation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto m2c = f.a.enroll("mn2.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint(), ep("127.0.0.2", 0));
  NodeClient mn2(m2c, f.a.endpoint(), ep("127.0.0.4", 0));
  NodeClient cn(cc, f.b.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn.register_at());
  REQUIRE(mn2.register_at());
  REQUIRE(cn.register_at());
  const std::string rows = "SELECT count(*) FROM paths";
  // The DC of the releasing end acknowledges; the other end hears it from
  // its own DC, and acknowledges there.
  auto released = [&](NodeClient& by, NodeClient& told, const wire::PathId& path) {
    auto ack = by.request(wire::PathRelease{path});
    REQUIRE(ack);
    REQUIRE(std::holds_alternative<wire::PathReleaseAck>(ack->body));
    CHECK(std::get<wire::PathReleaseAck>(ack->body).path_id == path);
    wire::ControlHeader h;
    auto tell = told.wait_for<wire::PathRelease>(3000, &h);
    REQUIRE(tell);
    CHECK(tell->path_id == path);
    told.send(wire::PathReleaseAck{path}, h.txid);
    CHECK(query_until(f.db_a.url(), rows, "0") == "0");
    CHECK(query_until(f.db_b.url(), rows, "0") == "0");
  };

  // MN lets a path go at DC_A: DC_B forgets it and tells CN.
  const wire::PathId first = direct_to_cn(mn, cn);
  REQUIRE(f.a.wait_log("established", 3000));
  REQUIRE(query_until(f.db_b.url(), rows, "1") == "1");
  released(mn, cn, first);
  // CN lets the next go at DC_B: DC_A forgets it and tells MN.
  const wire::PathId second = direct_to_cn(mn, cn);
  REQUIRE(query_until(f.db_a.url(), "SELECT count(*) FROM paths WHERE state = 2", "1") == "1");
  REQUIRE(query_until(f.db_b.url(), rows, "1") == "1");
  released(cn, mn, second);
  // The told end's own release later (its idle timer) is acknowledged.
  auto late = mn.request(wire::PathRelease{second});
  REQUIRE(late);
  CHECK(std::holds_alternative<wire::PathReleaseAck>(late->body));

  // The test as DC_B: a path between two nodes of DC_A is not DC_B's to
  // release, nor is a path ID nobody has; one answer for both, and the
  // local path stays.
  auto as_b = fake_dc(f.id_b, f.id_a, f.key, "a.test");
  const wire::PathId local = random_path();
  mn.send(wire::DirectionRequest{local, wire::Fqdn{"mn2.a.test"}, false});
  REQUIRE(accept_direction(mn2));
  REQUIRE(accept_direction(mn));
  REQUIRE(query_until(f.db_a.url(), rows, "1") == "1");
  std::uint32_t txid = 80;
  for (const wire::PathId& id : {local, random_path()}) {
    check_refused(as_b, exchange(f.a.endpoint(), as_b.seal(wire::PathRelease{id}, ++txid)),
                  wire::MsgType::path_release);
  }
  CHECK_FALSE(mn.wait_for<wire::PathRelease>(300));
  CHECK(query1(f.db_a.url(), rows) == "1");
  REQUIRE(f.a.stop() == 0);
  REQUIRE(f.b.stop() == 0);
  CHECK(f.a.log().find("releases_told_peer=1") != std::string::npos);
  CHECK(f.a.log().find("releases_from_peer=1") != std::string::npos);
  CHECK(f.b.log().find("releases_told_peer=1") != std::string::npos);
  CHECK(f.b.log().find("releases_from_peer=1") != std::string::npos);
}
