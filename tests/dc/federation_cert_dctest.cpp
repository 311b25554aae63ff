// SPDX-License-Identifier: MIT
// Federation by certificate (docs/federation.md §8): two real ntm-dc
// processes that share no key and no [peer.*] section, only a CA.  Each
// has a certificate for its dc-key.pem; the test's DNS publishes the
// markers and each zone's _ntm-dc discovery record with the key's
// fingerprint.  Then what must never make a peer: a certificate of
// another CA, a key DNS does not pin, a certificate sent under another
// DC id or naming someone else's zone, garbage.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "dc_helpers.hpp"
#include "federation/certificate.hpp"
#include "federation_helpers.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/peer_hello.hpp"
#include "pg_test_db.hpp"
#include "support/test_ca.hpp"

using namespace ntm;
using namespace ntm::test;
namespace federation = ntm::dc::federation;
namespace config = ntm::dc::config;
namespace tdns = ntm::test::dns;

namespace {

// As _ntm-dc publishes it (dc/identity/dc_key.cpp), computed independently.
std::string sha256_hex(const std::array<std::uint8_t, 32>& key) {
  std::array<unsigned char, 32> md{};
  unsigned len = 0;
  REQUIRE(EVP_Digest(key.data(), key.size(), md.data(), &len, EVP_sha256(), nullptr) == 1);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

void write_file(const std::filesystem::path& p, const std::string& text, bool secret = false) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
  if (secret) ::chmod(p.c_str(), 0600);
}

// DNS for the test: markers for names under a zone, the discovery TXT
// with a fingerprint at _ntm-dc.<zone>; NXDOMAIN for the rest.  The
// published fingerprints can be changed while the DCs run.
class ZoneDns {
 public:
  struct Zone {
    wire::Endpoint dc;
    std::string fp;
  };
  ZoneDns() {
    server_.set_handler([this](const std::vector<std::uint8_t>& q) {
      const std::string name = tdns::query_name(q);
      std::lock_guard lock(mu_);
      for (const auto& [zone, z] : zones_) {
        if (name == "_ntm-dc." + zone)
          return std::vector<std::vector<std::uint8_t>>{tdns::response(
              tdns::query_id(q), name, 0,
              {tdns::txt(name, {"v=ntm1 endpoint=" + z.dc.to_string() + " fp=sha256:" + z.fp},
                         0)})};
        if (name.ends_with("." + zone))
          return std::vector<std::vector<std::uint8_t>>{tdns::response(
              tdns::query_id(q), name, 0, {tdns::txt(name, {"v=ntm1 dc=" + z.dc.to_string()}, 0)})};
      }
      return std::vector<std::vector<std::uint8_t>>{
          tdns::response(tdns::query_id(q), name, 3, {}, {tdns::soa("test", 0, 0)})};
    });
  }
  void set(const std::string& zone, Zone z) {
    std::lock_guard lock(mu_);
    zones_[zone] = std::move(z);
  }
  wire::Endpoint endpoint() const { return server_.endpoint(); }

 private:
  std::mutex mu_;
  std::map<std::string, Zone> zones_;
  UdpServer server_;
};

// A DC's identity for the test: its X25519 key and the certificate the CA
// issued for it.
struct Identity {
  X25519Pair key = make_x25519();
  std::string cert_pem;
  std::string fp() const { return sha256_hex(key.public_key); }
};

struct CertFederation {
  TestDatabase db_a, db_b;
  DcProcess a, b;
  ZoneDns dns;
  TestCa ca = make_ca("ntm test federation CA");
  Identity ida, idb;
  std::string id_a, id_b;

  CertFederation() : a(opts(db_a.url(), "a.test")), b(opts(db_b.url(), "b.test")) {
    id_a = dc_id_of(a);
    id_b = dc_id_of(b);
    ida.cert_pem = issue(ca, ida.key.public_key, id_a, {"a.test"});
    idb.cert_pem = issue(ca, idb.key.public_key, id_b, {"b.test"});
    setup(a, ida);
    setup(b, idb);
    dns.set("a.test", {a.endpoint(), ida.fp()});
    dns.set("b.test", {b.endpoint(), idb.fp()});
  }
  void setup(DcProcess& dc, const Identity& id) {
    // The DC's key exists before it first starts, so that the CA can issue
    // its certificate; ntm-dc uses the key it finds.
    write_file(dc.state_dir() / "dc-key.pem", id.key.private_pem, true);
    write_file(dc.state_dir() / "ca.pem", ca.cert_pem);
    write_file(dc.state_dir() / "dc-cert.pem", id.cert_pem);
    append(dc, "[federation]\nresolver = " + dns.endpoint().to_string() +
                   "\ndns_timeout_ms = 200\npeer_timeout_ms = 800\nca_file = " +
                   (dc.state_dir() / "ca.pem").string() +
                   "\ncert_file = " + (dc.state_dir() / "dc-cert.pem").string() + "\n");
  }
  static DcProcess::Options opts(const std::string& url, const std::string& zone) {
    DcProcess::Options o(url);
    o.zones = zone;
    o.direction_timeout_ms = 1500;
    return o;
  }
};

// A Peer Hello from the test, as the DC `self_hex`, with a certificate.
std::vector<std::uint8_t> hello(const std::string& self_hex, const std::vector<std::uint8_t>& der,
                                bool reply = false, std::uint64_t at_ms = common::wall_ms()) {
  wire::ControlHeader h;
  h.common.type = wire::MsgType::peer_hello;
  h.common.domain = wire::KeyDomain::dc_peer;
  h.common.role = wire::Role::peer_dc;
  h.common.instance = 5;
  wire::DcId id;
  REQUIRE(wire::DcId::from_hex(self_hex, id));
  h.common.id = id.bytes;
  h.timestamp_ms = at_ms;
  h.txid = 42;
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  const std::size_t n = wire::encode_peer_hello(h, wire::PeerHello{reply, der}, out, err);
  REQUIRE(n > 0);
  out.resize(n);
  return out;
}

std::string random_dc_hex() {
  return wire::SecretKey::random().to_hex().substr(0, 32);
}

}  // namespace

TEST_CASE(
    "federation by certificate: DCs that share only a CA direct a path, and find each other again "
    "after a restart") {
  NTM_REQUIRE_PG_OR_SKIP();
  CertFederation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), cn(cc, f.b.endpoint(), ep("127.0.0.2", 0));
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());

  const wire::PathId path = random_path();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, false});
  auto to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_cn->initiator.fqdn.name == "mn.a.test");
  CHECK(to_mn->responder.node_id == cc.id);
  CHECK(mn.open_key(to_mn->path_key, path, 0, wire::SealedKind::path_key)
            .equals(cn.open_key(to_cn->path_key, path, 0, wire::SealedKind::path_key)));
  // Each admitted the other for its zone, with the key DNS pins.
  CHECK(f.a.wait_log("admitted by certificate for b.test: key sha256:" + f.idb.fp(), 1000));
  CHECK(f.b.wait_log("admitted by certificate for a.test: key sha256:" + f.ida.fp(), 1000));
  REQUIRE(f.b.wait_log("established", 3000));
  CHECK(query_until(f.db_b.url(), "SELECT count(*) FROM paths WHERE remote", "1") == "1");

  // DC_B restarts and knows nobody.  CN asks it for a re-direction of the
  // path: DC_B greets DC_A, found through the marker of mn.a.test, tells
  // it, and DC_A re-directs the path under epoch 1.  (Not within a second
  // of the direction: such a request waits for its retransmission,
  // docs/dc.md "Moves".)
  const std::size_t mark_b = f.b.log().size();
  REQUIRE(f.b.stop() == 0);
  f.b.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  cn.send(wire::DirectionRequest{path, wire::Fqdn{"mn.a.test"}, true});
  accept_next_epoch(cn, mn, path, 1);
  CHECK(f.b.wait_log("admitted by certificate for a.test", 1000, mark_b));
  CHECK(f.b.wait_log("telling peer a.test/", 1000, mark_b));

  // And DC_A's side of a restart: DC_B restarts once more and MN asks for
  // a re-direction.  DC_A's first Node Info Request is dropped as from an
  // unknown DC; its retransmission comes with a Peer Hello, and the one
  // after passes.
  const std::size_t mark_b2 = f.b.log().size();
  REQUIRE(f.b.stop() == 0);
  const std::size_t mark = f.a.log().size();
  f.b.start();
  mn.send(wire::DirectionRequest{path, wire::Fqdn{"cn.b.test"}, true});
  accept_next_epoch(cn, mn, path, 2);
  // DC_B admitted DC_A from its hello; DC_A kept the peer it knew (same
  // key): nothing to admit again.
  CHECK(f.b.wait_log("admitted by certificate for a.test", 1000, mark_b2));
  CHECK(f.a.log().find("admitted by certificate", mark) == std::string::npos);
}

TEST_CASE(
    "federation by certificate: a certificate of another CA, an unpinned key, a wrong DC id or "
    "zone learn nothing") {
  NTM_REQUIRE_PG_OR_SKIP();
  CertFederation f;
  const auto mc = f.a.enroll("mn.a.test");
  const auto cc = f.b.enroll("cn.b.test");
  f.a.start();
  f.b.start();
  NodeClient mn(mc, f.a.endpoint()), cn(cc, f.b.endpoint());
  REQUIRE(mn.register_at());
  REQUIRE(cn.register_at());

  // DNS pins another key for b.test: DC_A refuses DC_B's answer, and MN
  // gets an Error naming the pin within the peer timeout.
  f.dns.set("b.test", {f.b.endpoint(), sha256_hex(make_x25519().public_key)});
  const auto t0 = common::mono_ms();
  mn.send(wire::DirectionRequest{random_path(), wire::Fqdn{"cn.b.test"}, false});
  auto e = mn.wait_for<wire::ErrorReply>(3000);
  REQUIRE(e);
  CHECK(e->code == wire::ErrorCode::peer_dc_failed);
  CHECK(e->reason.value.find("not pinned by _ntm-dc.b.test") != std::string::npos);
  CHECK(common::mono_ms() - t0 < 2000);
  CHECK_FALSE(cn.wait_for<wire::RouteDirection>(200));
  CHECK(f.a.wait_log("refused the Peer Hello from " + f.b.endpoint().to_string(), 1000));
  f.dns.set("b.test", {f.b.endpoint(), f.idb.fp()});

  // The test as a DC of zone c.test, pinned in DNS.
  const Identity idc{make_x25519(), {}};
  const std::string id_c = random_dc_hex();
  f.dns.set("c.test", {wire::Endpoint{}, idc.fp()});
  auto der_of = [&](const TestCa& ca, const std::string& cn_hex,
                    const std::vector<std::string>& zones) {
    return pem_to_der(issue(ca, idc.key.public_key, cn_hex, zones));
  };

  // That DC answers for b.test in DNS (a marker pointing at it): DC_A
  // admits it for c.test, which its certificate names and DNS pins, but
  // not for b.test: MN gets an Error, CN hears nothing.
  {
    UdpServer as_c;
    // (Made here: the handler runs on the server's thread.)
    const auto reply = hello(id_c, der_of(f.ca, id_c, {"c.test"}), /*reply=*/true);
    as_c.set_handler([reply](const std::vector<std::uint8_t>& in) {
      wire::ControlHeader h;
      wire::PeerHello m;
      std::vector<std::vector<std::uint8_t>> out;
      if (wire::decode_peer_hello(in, h, m) == wire::Error::ok && !m.reply) out.push_back(reply);
      return out;
    });
    f.dns.set("b.test", {as_c.endpoint(), f.idb.fp()});
    mn.send(wire::DirectionRequest{random_path(), wire::Fqdn{"cn.b.test"}, false});
    auto wrong = mn.wait_for<wire::ErrorReply>(3000);
    REQUIRE(wrong);
    CHECK(wrong->code == wire::ErrorCode::peer_dc_failed);
    CHECK(wrong->reason.value.find("does not name b.test") != std::string::npos);
    CHECK_FALSE(cn.wait_for<wire::RouteDirection>(200));
    CHECK(f.a.wait_log("admitted by certificate for c.test", 1000));
    f.dns.set("b.test", {f.b.endpoint(), f.idb.fp()});
  }
  // Another CA; a certificate sent under another DC id; one naming DC_B's
  // zone; a stale hello; garbage: no answer at all, and DC_B keeps going.
  const TestCa other = make_ca("someone else's CA");
  CHECK_FALSE(exchange(f.b.endpoint(), hello(id_c, der_of(other, id_c, {"c.test"})), 400));
  CHECK_FALSE(
      exchange(f.b.endpoint(), hello(random_dc_hex(), der_of(f.ca, id_c, {"c.test"})), 400));
  CHECK_FALSE(exchange(f.b.endpoint(), hello(id_c, der_of(f.ca, id_c, {"b.test"})), 400));
  CHECK_FALSE(exchange(
      f.b.endpoint(),
      hello(id_c, der_of(f.ca, id_c, {"c.test"}), false, common::wall_ms() - 3'600'000), 400));
  auto junk = hello(id_c, std::vector<std::uint8_t>(300, 0x30));
  CHECK_FALSE(exchange(f.b.endpoint(), junk, 400));
  CHECK(f.b.wait_log("not issued by the configured CA", 1000));
  CHECK(f.b.wait_log("sent under another DC id than its certificate's", 1000));
  CHECK(f.b.wait_log("certificate names our zone 'b.test'", 1000));

  // The same key with a good certificate: DC_B answers with its own, and
  // a Node Info Request under the key the test derives gets a real answer.
  const auto der_c = der_of(f.ca, id_c, {"c.test"});
  auto reply = exchange(f.b.endpoint(), hello(id_c, der_c), 2000);
  REQUIRE(reply);
  wire::ControlHeader h;
  wire::PeerHello back;
  REQUIRE(wire::decode_peer_hello(*reply, h, back) == wire::Error::ok);
  CHECK(back.reply);
  CHECK(h.txid == 42);
  CHECK(back.certificate == pem_to_der(f.idb.cert_pem));
  const auto dir = f.b.state_dir().parent_path() / ("cert-test-" + id_c);
  write_file(dir / "c-key.pem", idc.key.private_pem, true);
  wire::DcId self, peer_id;
  REQUIRE(wire::DcId::from_hex(id_c, self));
  REQUIRE(wire::DcId::from_hex(f.id_b, peer_id));
  const wire::SecretKey k =
      federation::pairwise_key(federation::shared_secret(dir / "c-key.pem", f.idb.key.public_key),
                               self, idc.key.public_key, peer_id, f.idb.key.public_key);
  std::filesystem::remove_all(dir);
  auto as_c = fake_dc(id_c, f.id_b, k.to_hex(), "b.test");
  // c.test asks about a b.test node for a c.test requester: authentic, in
  // zone, answered.
  auto answer = exchange(
      f.b.endpoint(),
      as_c.seal(wire::NodeInfoRequest{wire::Fqdn{"cn.b.test"}, wire::Fqdn{"x.c.test"}}, 9), 2000);
  REQUIRE(answer);
  wire::Received r;
  REQUIRE(as_c.open(*answer, r) == wire::Error::ok);
  REQUIRE(std::holds_alternative<wire::NodeInfoResponse>(r.body));
  CHECK(std::get<wire::NodeInfoResponse>(r.body).node->info.node_id == cc.id);
}

TEST_CASE(
    "federation by certificate: after DC_A restarts, MN's move has it find DC_B again and "
    "re-direct the path") {
  NTM_REQUIRE_PG_OR_SKIP();
  CertFederation f;
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
  REQUIRE(accept_direction(cn));
  REQUIRE(accept_direction(mn));
  REQUIRE(f.a.wait_log("established", 3000));

  // DC_A restarts: the path comes back from its database, the peer it knew
  // by certificate does not.  MN moves G -> G (CN behind NAT must send
  // first to the new address, so the path is re-directed): DC_A finds
  // DC_B through the marker of cn.b.test, greets it, and asks it.
  REQUIRE(f.a.stop() == 0);
  const std::size_t from = f.a.log().size();
  f.a.start();
  NodeClient mn2(mc, f.a.endpoint(), ep("127.0.0.3", 0));
  REQUIRE(mn2.register_at({}, wire::RegistrationReason::move));
  const auto next = accept_next_epoch(cn, mn2, path, 1);
  CHECK(next.to_cn.initiator.real == mn2.local());
  CHECK(f.a.wait_log("admitted by certificate for b.test", 1000, from));
  CHECK(f.a.wait_log("asking peer b.test/", 1000, from));
}
