// SPDX-License-Identifier: MIT
// Certificate trust between DCs (docs/federation.md §8): the [federation]
// keys, the discovery record's fingerprints, and CertificateTrust against
// certificates made in the test: its own certificate checked at start, a
// peer's checked against the CA and against what this DC knows.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "federation/marker.hpp"
#include "federation/trust.hpp"
#include "support/test_ca.hpp"

using namespace ntm;
using namespace ntm::dc;

namespace {

constexpr const char* kIdA = "0000000000000000000000000000000a";
constexpr const char* kIdB = "0000000000000000000000000000000b";

// A state directory with a DC key, the CA and the DC's certificate.
struct Site {
  std::filesystem::path dir;
  test::X25519Pair key = test::make_x25519();
  explicit Site(const std::string& tag) {
    dir = std::filesystem::temp_directory_path() /
          ("ntm-trust-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    write("dc-key.pem", key.private_pem);
    ::chmod((dir / "dc-key.pem").c_str(), 0600);
  }
  ~Site() { std::filesystem::remove_all(dir); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
  }
  config::Config config(const std::string& id, const std::string& zones,
                        const std::string& extra = {}) const {
    return config::parse("[dc]\nid = " + id + "\nzones = " + zones +
                         "\nlisten = 127.0.0.1:4510\nstate_dir = " + dir.string() +
                         "\n[federation]\nca_file = " + (dir / "ca.pem").string() +
                         "\ncert_file = " + (dir / "cert.pem").string() + "\n" + extra);
  }
};

std::string error_of(const config::Config& c) {
  try {
    federation::CertificateTrust t(c);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("trust config: ca_file and cert_file go together, pin_dns and max_cert_peers") {
  const std::string dc =
      "[dc]\nid = 0000000000000000000000000000000a\nzones = a.test\n"
      "listen = 127.0.0.1:4510\nstate_dir = /var/lib/ntm-dc\n";
  const auto on =
      config::parse(dc + "[federation]\nca_file = /etc/ca.pem\ncert_file = /etc/c.pem\n");
  CHECK(on.federation.certificates());
  CHECK(on.federation.pin_dns);
  CHECK(on.federation.max_cert_peers == 1024);
  CHECK(on.federation.ca_file == "/etc/ca.pem");
  CHECK_FALSE(config::parse(dc + "[federation]\n").federation.certificates());
  CHECK_THROWS_WITH_AS(config::parse(dc + "[federation]\nca_file = /etc/ca.pem\n"),
                       doctest::Contains("cert_file"), config::ConfigError);
  CHECK_THROWS_WITH_AS(config::parse(dc + "[federation]\ncert_file = /etc/c.pem\n"),
                       doctest::Contains("ca_file"), config::ConfigError);
  CHECK_THROWS_AS(config::parse(dc + "[federation]\nca_file = ca.pem\ncert_file = /c.pem\n"),
                  config::ConfigError);  // relative
  const auto off = config::parse(dc + "[federation]\npin_dns = off\nmax_cert_peers = 3\n");
  CHECK_FALSE(off.federation.pin_dns);
  CHECK(off.federation.max_cert_peers == 3);
  CHECK_THROWS_WITH_AS(config::parse(dc + "[federation]\npin_dns = maybe\n"),
                       doctest::Contains("pin_dns"), config::ConfigError);
}

TEST_CASE("trust: the discovery record's fingerprints") {
  const std::string fp(64, 'a');
  CHECK(federation::find_fingerprints({"v=ntm1 endpoint=192.0.2.1:4510 fp=sha256:" + fp}) ==
        std::vector<std::string>{fp});
  CHECK(federation::find_fingerprints(
            {"v=spf1 -all", "v=ntm1 endpoint=[2001:db8::1]:4510 fp=sha256:" + fp,
             "v=ntm1 endpoint=192.0.2.2:4510 fp=sha256:" + std::string(64, 'b')})
            .size() == 2);
  // Not the publisher's form: short, upper case, other hash, a marker.
  CHECK(federation::find_fingerprints({"v=ntm1 endpoint=192.0.2.1:4510 fp=sha256:00ff"}).empty());
  CHECK(federation::find_fingerprints({"v=ntm1 endpoint=x fp=sha256:" + std::string(64, 'A')})
            .empty());
  CHECK(federation::find_fingerprints({"v=ntm1 endpoint=x fp=sha1:" + fp}).empty());
  CHECK(federation::find_fingerprints({"v=ntm1 dc=192.0.2.1:4510"}).empty());
}

TEST_CASE("trust: this DC's own certificate must be one its peers accept") {
  const auto ca = test::make_ca("trust test CA");
  Site a("own");
  a.write("ca.pem", ca.cert_pem);
  a.write("cert.pem", test::issue(ca, a.key.public_key, kIdA, {"a.test"}));
  CHECK(error_of(a.config(kIdA, "a.test")).empty());
  const std::string pem = test::issue(ca, a.key.public_key, kIdA, {"a.test"});
  a.write("cert.pem", pem);
  federation::CertificateTrust t(a.config(kIdA, "a.test"));
  CHECK(t.own_certificate() == test::pem_to_der(pem));

  // For another DC id, another key, a zone we do not serve, another CA,
  // expired: the DC does not start, and says why.
  a.write("cert.pem", test::issue(ca, a.key.public_key, kIdB, {"a.test"}));
  CHECK(error_of(a.config(kIdA, "a.test")).find("not to this DC's [dc] id") != std::string::npos);
  a.write("cert.pem", test::issue(ca, test::make_x25519().public_key, kIdA, {"a.test"}));
  CHECK(error_of(a.config(kIdA, "a.test")).find("not issued for the key in") != std::string::npos);
  a.write("cert.pem", test::issue(ca, a.key.public_key, kIdA, {"a.test", "b.test"}));
  CHECK(error_of(a.config(kIdA, "a.test")).find("names zone 'b.test'") != std::string::npos);
  a.write("cert.pem", test::issue(test::make_ca("other"), a.key.public_key, kIdA, {"a.test"}));
  CHECK_FALSE(error_of(a.config(kIdA, "a.test")).empty());
  a.write("cert.pem", test::issue(ca, a.key.public_key, kIdA, {"a.test"}, -7200, -3600));
  CHECK_FALSE(error_of(a.config(kIdA, "a.test")).empty());
  a.write("cert.pem", "not a certificate\n");
  CHECK(error_of(a.config(kIdA, "a.test")).find("cert.pem") != std::string::npos);
}

TEST_CASE("trust: a peer's certificate is checked, and both ends derive one key") {
  const auto ca = test::make_ca("trust test CA");
  Site a("a"), b("b");
  for (Site* s : {&a, &b}) s->write("ca.pem", ca.cert_pem);
  a.write("cert.pem", test::issue(ca, a.key.public_key, kIdA, {"a.test"}));
  b.write("cert.pem", test::issue(ca, b.key.public_key, kIdB, {"b.test"}));
  const auto ca_cfg = a.config(kIdA, "a.test");
  const auto cb_cfg = b.config(kIdB, "b.test");
  federation::CertificateTrust ta(ca_cfg), tb(cb_cfg);

  std::string why;
  auto b_seen_by_a = ta.check(tb.own_certificate(), why);
  REQUIRE(b_seen_by_a);
  CHECK(b_seen_by_a->zones == std::vector<std::string>{"b.test"});
  auto a_seen_by_b = tb.check(ta.own_certificate(), why);
  REQUIRE(a_seen_by_b);
  const auto pa = ta.peer_config(*b_seen_by_a);
  const auto pb = tb.peer_config(*a_seen_by_b);
  CHECK(pa.dc_id.to_hex() == kIdB);
  CHECK(pb.dc_id.to_hex() == kIdA);
  CHECK(pa.zones == std::vector<std::string>{"b.test"});
  CHECK(pa.key.equals(pb.key));
  // Their channels speak to each other under that key.
  federation::Peer at_a(pa, pb.dc_id, 1, 60'000), at_b(pb, pa.dc_id, 2, 60'000);
  wire::Received r;
  CHECK(at_b.open(at_a.seal(wire::Keepalive{1, 2}, 7), r) == wire::Error::ok);

  // Refused: our own certificate back; a configured peer's id or zone;
  // our zone; another CA.
  CHECK_FALSE(ta.check(ta.own_certificate(), why));
  CHECK(why == "certificate of this DC");
  const auto with_peer = a.config(kIdA, "a.test",
                                  "[peer.b]\ndc_id = " + std::string(kIdB) +
                                      "\nkey = " + std::string(64, 'c') + "\nzones = b.test\n");
  federation::CertificateTrust tp(with_peer);
  CHECK_FALSE(tp.check(tb.own_certificate(), why));
  CHECK(why.find("configured as [peer.b]") != std::string::npos);
  const auto x = test::make_x25519();
  CHECK_FALSE(tp.check(test::pem_to_der(test::issue(
                           ca, x.public_key, "0000000000000000000000000000000c", {"sub.b.test"})),
                       why));
  CHECK(why.find("belongs to [peer.b]") != std::string::npos);
  CHECK_FALSE(ta.check(test::pem_to_der(test::issue(
                           ca, x.public_key, "0000000000000000000000000000000c", {"x.a.test"})),
                       why));
  CHECK(why.find("our zone 'a.test'") != std::string::npos);
  CHECK_FALSE(
      ta.check(test::pem_to_der(test::issue(test::make_ca("other"), x.public_key,
                                            "0000000000000000000000000000000c", {"c.test"})),
               why));
  CHECK_FALSE(why.empty());

  // supersedes: same DC, a certificate at least as new.
  at_a.set_certificate(b_seen_by_a->fingerprint_hex, b_seen_by_a->not_before);
  CHECK(federation::CertificateTrust::supersedes(*b_seen_by_a, at_a));
  auto older = *b_seen_by_a;
  older.not_before -= 10;
  CHECK_FALSE(federation::CertificateTrust::supersedes(older, at_a));
  auto other_dc = *b_seen_by_a;
  other_dc.dc_id = pb.dc_id;
  CHECK_FALSE(federation::CertificateTrust::supersedes(other_dc, at_a));
}
