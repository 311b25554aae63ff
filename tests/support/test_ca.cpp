// SPDX-License-Identifier: MIT
#include "support/test_ca.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace ntm::test {

namespace {

struct OsslFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
  void operator()(X509* x) const noexcept { X509_free(x); }
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
  void operator()(X509_EXTENSION* e) const noexcept { X509_EXTENSION_free(e); }
  void operator()(GENERAL_NAMES* g) const noexcept { GENERAL_NAMES_free(g); }
};
template <class T>
using Owned = std::unique_ptr<T, OsslFree>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test_ca: ") + what + " failed");
}

Owned<BIO> mem_bio(const std::string& s) {
  Owned<BIO> b(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
  check(b != nullptr, "BIO_new_mem_buf");
  return b;
}

std::string bio_string(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string to_pem(X509* x) {
  Owned<BIO> b(BIO_new(BIO_s_mem()));
  check(b && PEM_write_bio_X509(b.get(), x) == 1, "PEM_write_bio_X509");
  return bio_string(b.get());
}

std::string key_to_pem(EVP_PKEY* k) {
  Owned<BIO> b(BIO_new(BIO_s_mem()));
  check(b && PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_string(b.get());
}

// Version 3, a random serial, the validity window, the subject CN (none
// when cn is empty) and the subject key.
Owned<X509> new_cert(EVP_PKEY* subject_key, const std::string& cn, long not_before,
                     long not_after) {
  Owned<X509> x(X509_new());
  check(x != nullptr, "X509_new");
  std::uint64_t serial = 0;
  check(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1, "RAND_bytes");
  check(X509_set_version(x.get(), X509_VERSION_3) == 1 &&
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial >> 1) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x.get()), not_before) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(x.get()), not_after) != nullptr &&
            X509_set_pubkey(x.get(), subject_key) == 1,
        "certificate fields");
  if (!cn.empty())
    check(X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(cn.data()),
                                     static_cast<int>(cn.size()), -1, 0) == 1,
          "subject CN");
  return x;
}

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> e(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(e && X509_add_ext(x, e.get(), -1) == 1, "X509_add_ext");
}

}  // namespace

TestCa make_ca(const std::string& name) {
  Owned<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  check(key != nullptr, "Ed25519 keygen");
  Owned<X509> x = new_cert(key.get(), name, -3600, 10L * 365 * 86400);
  check(X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())) == 1, "issuer name");
  add_ext(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(x.get(), x.get(), NID_subject_key_identifier, "hash");
  // Ed25519 signs the message itself: no separate digest.
  check(X509_sign(x.get(), key.get(), nullptr) > 0, "X509_sign");
  return {to_pem(x.get()), key_to_pem(key.get())};
}

X25519Pair make_x25519() {
  Owned<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  check(key != nullptr, "X25519 keygen");
  X25519Pair p;
  std::size_t n = p.public_key.size();
  check(EVP_PKEY_get_raw_public_key(key.get(), p.public_key.data(), &n) == 1 &&
            n == p.public_key.size(),
        "EVP_PKEY_get_raw_public_key");
  p.private_pem = key_to_pem(key.get());
  return p;
}

std::string issue(const TestCa& ca, const std::array<std::uint8_t, 32>& public_key,
                  const std::string& cn, const std::vector<std::string>& zones, long not_before,
                  long not_after) {
  Owned<EVP_PKEY> key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, public_key.data(), public_key.size()));
  check(key != nullptr, "EVP_PKEY_new_raw_public_key");
  return issue_key(ca, key.get(), cn, zones, not_before, not_after);
}

std::string issue_key(const TestCa& ca, EVP_PKEY* subject_key, const std::string& cn,
                      const std::vector<std::string>& zones, long not_before, long not_after) {
  Owned<X509> ca_cert(PEM_read_bio_X509(mem_bio(ca.cert_pem).get(), nullptr, nullptr, nullptr));
  Owned<EVP_PKEY> ca_key(
      PEM_read_bio_PrivateKey(mem_bio(ca.key_pem).get(), nullptr, nullptr, nullptr));
  check(ca_cert && ca_key, "reading the CA");
  Owned<X509> x = new_cert(subject_key, cn, not_before, not_after);
  check(X509_set_issuer_name(x.get(), X509_get_subject_name(ca_cert.get())) == 1, "issuer name");
  if (!zones.empty()) {
    // Built by hand rather than from a "DNS:..." string: the names go in
    // byte for byte, invalid ones included.
    Owned<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
    check(names != nullptr, "sk_GENERAL_NAME_new_null");
    for (const auto& z : zones) {
      GENERAL_NAME* n = GENERAL_NAME_new();
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      if (!n || !s || ASN1_STRING_set(s, z.data(), static_cast<int>(z.size())) != 1) {
        GENERAL_NAME_free(n);
        ASN1_IA5STRING_free(s);
        check(false, "GENERAL_NAME");
      }
      GENERAL_NAME_set0_value(n, GEN_DNS, s);
      if (sk_GENERAL_NAME_push(names.get(), n) <= 0) {
        GENERAL_NAME_free(n);
        check(false, "sk_GENERAL_NAME_push");
      }
    }
    check(X509_add1_ext_i2d(x.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "subjectAltName");
  }
  check(X509_sign(x.get(), ca_key.get(), nullptr) > 0, "X509_sign");
  return to_pem(x.get());
}

std::vector<std::uint8_t> pem_to_der(const std::string& cert_pem) {
  Owned<X509> x(PEM_read_bio_X509(mem_bio(cert_pem).get(), nullptr, nullptr, nullptr));
  check(x != nullptr, "PEM_read_bio_X509");
  const int n = i2d_X509(x.get(), nullptr);
  check(n > 0, "i2d_X509");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(x.get(), &p);
  return der;
}

}  // namespace ntm::test
