// SPDX-License-Identifier: MIT
// DC certificates (docs/federation.md §8): what the CA file accepts and
// refuses, and the pairwise key two DCs derive from their X25519 keys.
// The certificates are made in the test (tests/support/test_ca.hpp).
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "federation/certificate.hpp"
#include "support/test_ca.hpp"

using namespace ntm;
using namespace ntm::dc::federation;
using ntm::test::issue;
using ntm::test::make_ca;
using ntm::test::make_x25519;
using ntm::test::pem_to_der;

namespace {

const std::string kId = "00112233445566778899aabbccddeeff";
const std::vector<std::string> kZones = {"a.test"};

// A file with the given content, removed when it goes.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/ntm-cert-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// Why a refuses der (empty: it accepts it).
std::string refusal(const Authority& a, const std::vector<std::uint8_t>& der,
                    std::int64_t at = now()) {
  std::string why;
  const auto c = a.verify(der, at, why);
  if (c) return "";
  CHECK_FALSE(why.empty());
  return why;
}

std::string refusal(const Authority& a, const std::string& pem) {
  return refusal(a, pem_to_der(pem));
}

std::string sha256_hex(const std::array<std::uint8_t, 32>& b) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(b.data(), b.size(), md, &len, EVP_sha256(), nullptr) == 1);
  std::string out;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    out += buf;
  }
  return out;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

template <class F>
std::string error_of(const F& f, const std::filesystem::path& p) {
  try {
    f(p);
  } catch (const CertificateError& e) {
    return e.what();
  }
  return "";
}

wire::DcId dc_id(const std::string& hex) {
  wire::DcId id;
  REQUIRE(wire::DcId::from_hex(hex, id));
  return id;
}

}  // namespace

TEST_CASE("certificate: a valid certificate verifies with its id, zones and key") {
  const auto ca = make_ca("NTM test CA");
  const TempFile ca_file(ca.cert_pem);
  const Authority authority(ca_file.path());
  const auto dc = make_x25519();
  const auto der =
      pem_to_der(issue(ca, dc.public_key, kId, {"a.test", "B.Test", "b.test.", "c.a.test"}));
  std::string why;
  const auto c = authority.verify(der, now(), why);
  REQUIRE_MESSAGE(c, why);
  CHECK(c->dc_id.to_hex() == kId);
  // Lower-cased, trailing dot gone, each zone once, in the certificate's order.
  CHECK(c->zones == std::vector<std::string>{"a.test", "b.test", "c.a.test"});
  CHECK(c->public_key == dc.public_key);
  CHECK(c->fingerprint_hex == sha256_hex(dc.public_key));
  CHECK(c->fingerprint_hex.size() == 64);
  CHECK(c->der == der);
  // issue() backdates notBefore by 60 s.
  CHECK(c->not_before <= now() - 59);
  CHECK(c->not_before >= now() - 70);
}

TEST_CASE("certificate: refused with a reason") {
  const auto ca = make_ca("NTM test CA");
  const TempFile ca_file(ca.cert_pem);
  const Authority authority(ca_file.path());
  const auto dc = make_x25519();
  const std::string valid = issue(ca, dc.public_key, kId, kZones);
  REQUIRE(refusal(authority, valid).empty());
  const std::string not_ca = "not issued by the configured CA";

  SUBCASE("another CA, with another name or the same") {
    CHECK(refusal(authority, issue(make_ca("Other CA"), dc.public_key, kId, kZones)) == not_ca);
    CHECK(refusal(authority, issue(make_ca("NTM test CA"), dc.public_key, kId, kZones)) == not_ca);
  }
  SUBCASE("a bit flipped in the signature") {
    auto der = pem_to_der(valid);
    der.back() ^= 1;
    CHECK(refusal(authority, der) == not_ca);
  }
  SUBCASE("self-signed and self-issued") {
    // An X25519 key cannot sign: a self-signed leaf has another key type,
    // and a self-issued X25519 one (issuer = subject) is signed by a rogue.
    CHECK(refusal(authority, make_ca(kId).cert_pem) == not_ca);
    CHECK(refusal(authority, issue(make_ca(kId), dc.public_key, kId, kZones)) == not_ca);
  }
  SUBCASE("the CA's own certificate") {
    CHECK(refusal(authority, ca.cert_pem) == not_ca);
  }
  SUBCASE("outside its validity") {
    CHECK(refusal(authority, issue(ca, dc.public_key, kId, kZones, -7200, -3600)) == "expired");
    CHECK(refusal(authority, issue(ca, dc.public_key, kId, kZones, 3600, 7200)) == "not yet valid");
    // At the caller's time, not the system's.
    const auto der = pem_to_der(valid);
    CHECK(refusal(authority, der, now() + 2 * 86400) == "expired");
    CHECK(refusal(authority, der, now() - 3600) == "not yet valid");
    CHECK(refusal(authority, der, now() + 86400 - 120).empty());
  }
  SUBCASE("no DC id in the CN") {
    for (const std::string cn :
         {"dc-a", "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeef",
          "00112233445566778899aabbccddeeff0", "00112233445566778899aabbccddeefg",
          "00000000000000000000000000000000", ""}) {
      CAPTURE(cn);
      CHECK(refusal(authority, issue(ca, dc.public_key, cn, kZones)) ==
            "no DC id in the subject CN");
    }
  }
  SUBCASE("no zone") {
    CHECK(refusal(authority, issue(ca, dc.public_key, kId, {})) ==
          "no zone (dNSName) in subjectAltName");
    for (const std::string z : {"*.a.test", "a..test", "bad_zone.test", "-a.test", ".", ""}) {
      CAPTURE(z);
      CHECK(refusal(authority, issue(ca, dc.public_key, kId, {"a.test", z})) ==
            "a dNSName in subjectAltName is not a valid DNS name");
    }
  }
  SUBCASE("not an X25519 key") {
    Pkey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    REQUIRE(ed);
    CHECK(refusal(authority, ntm::test::issue_key(ca, ed.get(), kId, kZones)) ==
          "not an X25519 key");
  }
  SUBCASE("not a DER certificate") {
    const auto der = pem_to_der(valid);
    const std::string bad = "not a DER certificate";
    CHECK(refusal(authority, std::vector<std::uint8_t>{}) == bad);
    CHECK(refusal(authority, std::vector<std::uint8_t>(300, 0x30)) == bad);
    CHECK(refusal(authority, std::vector<std::uint8_t>(valid.begin(), valid.end() - 200)) == bad);
    CHECK(refusal(authority, std::vector<std::uint8_t>(der.begin(), der.end() - 1)) == bad);
    CHECK(refusal(authority, std::vector<std::uint8_t>(der.begin(), der.begin() + 40)) == bad);
    auto trailing = der;
    trailing.push_back(0);
    CHECK(refusal(authority, trailing) == bad);
  }
  SUBCASE("larger than 1200 bytes") {
    CHECK(refusal(authority, std::vector<std::uint8_t>(1201, 0)) == "larger than 1200 bytes");
    // A well-formed one too: the size is checked before anything else.
    std::vector<std::string> zones;
    for (int i = 0; i < 60; ++i) zones.push_back("zone-" + std::to_string(i) + ".example.test");
    const auto big = pem_to_der(issue(ca, dc.public_key, kId, zones));
    REQUIRE(big.size() > 1200);
    CHECK(refusal(authority, big) == "larger than 1200 bytes");
    zones.resize(20);
    const auto fits = pem_to_der(issue(ca, dc.public_key, kId, zones));
    REQUIRE(fits.size() <= 1200);
    CHECK(refusal(authority, fits).empty());
  }
}

TEST_CASE("certificate: a CA file with two CAs accepts the certificates of both") {
  const auto ca1 = make_ca("NTM CA 1");
  const auto ca2 = make_ca("NTM CA 2");
  // Other PEM blocks (a key) between the certificates are skipped.
  const TempFile both(ca1.cert_pem + ca1.key_pem + ca2.cert_pem);
  const Authority authority(both.path());
  const auto dc = make_x25519();
  CHECK(refusal(authority, issue(ca1, dc.public_key, kId, kZones)).empty());
  CHECK(refusal(authority, issue(ca2, dc.public_key, kId, kZones)).empty());
  CHECK(refusal(authority, issue(make_ca("NTM CA 3"), dc.public_key, kId, kZones)) ==
        "not issued by the configured CA");
  // The first CA alone does not know the second's.
  const TempFile one(ca1.cert_pem);
  CHECK(refusal(Authority(one.path()), issue(ca2, dc.public_key, kId, kZones)) ==
        "not issued by the configured CA");
}

TEST_CASE("certificate: an unusable CA file throws naming it") {
  const auto make = [](const std::filesystem::path& p) { Authority a(p); };
  const auto ca = make_ca("NTM test CA");
  const std::filesystem::path missing = "/nonexistent/ntm-ca.pem";
  CHECK(error_of(make, missing).find(missing.string()) != std::string::npos);
  const TempFile empty("");
  CHECK(error_of(make, empty.path()) ==
        "CA file " + empty.path().string() + ": no certificate in it");
  const TempFile key_only(ca.key_pem);
  CHECK(error_of(make, key_only.path()).find("no certificate in it") != std::string::npos);
  // A DC's certificate given as the CA.
  const TempFile leaf(issue(ca, make_x25519().public_key, kId, kZones));
  CHECK(error_of(make, leaf.path()).find("not a CA certificate") != std::string::npos);
  // A damaged second certificate is not silently dropped.
  std::string damaged = make_ca("NTM CA 2").cert_pem;
  damaged[damaged.size() / 2] = '!';
  const TempFile broken(ca.cert_pem + damaged);
  const std::string e = error_of(make, broken.path());
  CHECK(e.find(broken.path().string()) != std::string::npos);
  CHECK(e.find("certificate 2 in it is unreadable") != std::string::npos);
}

TEST_CASE("certificate: shared secret and pairwise key") {
  const auto a = make_x25519();
  const auto b = make_x25519();
  const auto c = make_x25519();
  const TempFile a_file(a.private_pem), b_file(b.private_pem), c_file(c.private_pem);
  const auto id_a = dc_id("0000000000000000000000000000000a");
  const auto id_b = dc_id("0000000000000000000000000000000b");
  const auto id_c = dc_id("0000000000000000000000000000000c");

  CHECK(public_key_of(a_file.path()) == a.public_key);
  CHECK(public_key_of(b_file.path()) == b.public_key);

  const auto s_ab = shared_secret(a_file.path(), b.public_key);
  const auto s_ba = shared_secret(b_file.path(), a.public_key);
  CHECK(s_ab == s_ba);
  const auto k_ab = pairwise_key(s_ab, id_a, a.public_key, id_b, b.public_key);
  const auto k_ba = pairwise_key(s_ba, id_b, b.public_key, id_a, a.public_key);
  CHECK(k_ab.equals(k_ba));
  CHECK_FALSE(k_ab.equals(wire::SecretKey{}));

  // A third DC shares another secret with A, hence another key.
  const auto s_ac = shared_secret(a_file.path(), c.public_key);
  CHECK(s_ac != s_ab);
  CHECK(s_ac == shared_secret(c_file.path(), a.public_key));
  CHECK_FALSE(pairwise_key(s_ac, id_a, a.public_key, id_c, c.public_key).equals(k_ab));
  // The ids and keys are bound in: the same secret under other ids or with
  // the keys the other way round gives another key.
  CHECK_FALSE(pairwise_key(s_ab, id_b, a.public_key, id_a, b.public_key).equals(k_ab));
  CHECK_FALSE(pairwise_key(s_ab, id_a, b.public_key, id_b, a.public_key).equals(k_ab));
  CHECK_FALSE(pairwise_key(s_ab, id_a, a.public_key, id_c, b.public_key).equals(k_ab));
  auto other = s_ab;
  other[0] ^= 1;
  CHECK_FALSE(pairwise_key(other, id_a, a.public_key, id_b, b.public_key).equals(k_ab));

  // Low-order peer keys (0 and 1) make an all-zero secret: refused.
  for (int u : {0, 1}) {
    std::array<std::uint8_t, 32> low{};
    low[0] = static_cast<std::uint8_t>(u);
    try {
      shared_secret(a_file.path(), low);
      FAIL("no exception for u = " << u);
    } catch (const CertificateError& e) {
      CHECK(std::string(e.what()).find(a_file.path().string()) != std::string::npos);
    }
  }
}

TEST_CASE("certificate: unusable private key files throw naming the file") {
  const auto peer = make_x25519().public_key;
  const auto secret = [&](const std::filesystem::path& p) { shared_secret(p, peer); };
  const auto pub = [](const std::filesystem::path& p) { public_key_of(p); };
  Pkey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(ed);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), ed.get(), nullptr, nullptr, 0, nullptr, nullptr));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  const TempFile ed_file(std::string(data, static_cast<std::size_t>(n)));
  const TempFile junk("not a key\n");
  const std::filesystem::path missing = "/nonexistent/dc-key.pem";
  for (const auto& f : {ed_file.path(), junk.path(), missing}) {
    CAPTURE(f);
    CHECK(error_of(secret, f).find(f.string()) != std::string::npos);
    CHECK(error_of(pub, f).find(f.string()) != std::string::npos);
  }
  CHECK(error_of(pub, ed_file.path()).find("not an X25519 key") != std::string::npos);
  // The key's bytes are not in the message.
  CHECK(error_of(pub, ed_file.path()).find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE("certificate: read_certificate_der") {
  const auto ca = make_ca("NTM test CA");
  const std::string pem = issue(ca, make_x25519().public_key, kId, kZones);
  const TempFile file(pem);
  CHECK(read_certificate_der(file.path()) == pem_to_der(pem));
  // The first certificate of the file is this DC's.
  const TempFile two(pem + ca.cert_pem);
  CHECK(read_certificate_der(two.path()) == pem_to_der(pem));
  const auto read = [](const std::filesystem::path& p) { read_certificate_der(p); };
  const TempFile junk("-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n");
  CHECK(error_of(read, junk.path()) ==
        "certificate " + junk.path().string() + ": no PEM certificate in it");
  CHECK(error_of(read, "/nonexistent/cert.pem").find("/nonexistent/cert.pem") != std::string::npos);
}
