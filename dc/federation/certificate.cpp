// SPDX-License-Identifier: MIT
#include "federation/certificate.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <system_error>
#include <tuple>

namespace ntm::dc::federation {

namespace {

struct OsslFree {
  void operator()(X509* x) const noexcept { X509_free(x); }
  void operator()(X509_STORE* s) const noexcept { X509_STORE_free(s); }
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
  void operator()(GENERAL_NAMES* g) const noexcept { GENERAL_NAMES_free(g); }
  void operator()(EVP_KDF* k) const noexcept { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const noexcept { EVP_KDF_CTX_free(c); }
  void operator()(FILE* f) const noexcept { std::fclose(f); }
};
template <class T>
using Owned = std::unique_ptr<T, OsslFree>;

constexpr char kSalt[] = "ntm1 dc-peer cert";

Owned<FILE> open_file(const std::filesystem::path& file, const std::string& what) {
  Owned<FILE> f(std::fopen(file.c_str(), "re"));
  if (!f)
    throw CertificateError(what + " " + file.string() + ": " +
                           std::generic_category().message(errno));
  return f;
}

// The calls below leave OpenSSL's per-thread error queue filled on bad
// input; it is emptied so that the next, unrelated, error report does not
// blame this one.
struct ClearErrors {
  ~ClearErrors() { ERR_clear_error(); }
};

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (auto c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// Why X509_verify_cert refused: the few reasons an operator can act on get
// their own words, the rest OpenSSL's.
std::string verify_error(int err, int depth) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_INVALID_CA:
      return "not issued by the configured CA";
    default:
      break;
  }
  const std::string what = X509_verify_cert_error_string(err);
  if (depth > 0) return "the CA's certificate: " + what;
  if (err == X509_V_ERR_CERT_HAS_EXPIRED) return "expired";
  if (err == X509_V_ERR_CERT_NOT_YET_VALID) return "not yet valid";
  return what;
}

// The subject CN as a DC id; false unless there is exactly one CN and it is
// 32 lower-case hex digits (the form to_hex writes, so there is one
// spelling per DC id).
bool dc_id_of(X509* x, wire::DcId& out) {
  const X509_NAME* subject = X509_get_subject_name(x);
  const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0) return false;
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
  const std::string_view s(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                           static_cast<std::size_t>(ASN1_STRING_length(cn)));
  if (s.size() != 32 || !std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      }))
    return false;
  return wire::DcId::from_hex(s, out) && !out.is_zero();
}

// The dNSName entries, canonical and without duplicates; other kinds of
// names say nothing about zones and are skipped.  why is set on failure.
bool zones_of(X509* x, std::vector<std::string>& out, std::string& why) {
  Owned<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type != GEN_DNS) continue;
    const std::string_view s(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                             static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName)));
    wire::Fqdn zone;
    // Not echoed: it is the peer's text and may be anything.
    if (!wire::Fqdn::canonicalize(s, zone)) {
      why = "a dNSName in subjectAltName is not a valid DNS name";
      return false;
    }
    if (std::find(out.begin(), out.end(), zone.name) == out.end())
      out.push_back(std::move(zone.name));
  }
  if (out.empty()) {
    why = "no zone (dNSName) in subjectAltName";
    return false;
  }
  return true;
}

Owned<EVP_PKEY> read_x25519(const std::filesystem::path& file) {
  const auto fail = [&](const std::string& what) -> CertificateError {
    return CertificateError("DC key " + file.string() + ": " + what);
  };
  ClearErrors clear;
  Owned<FILE> f(std::fopen(file.c_str(), "re"));
  if (!f) throw fail(std::generic_category().message(errno));
  Owned<EVP_PKEY> k(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!k) throw fail("not a PEM private key");
  if (EVP_PKEY_get_id(k.get()) != EVP_PKEY_X25519) throw fail("not an X25519 key");
  return k;
}

std::array<std::uint8_t, 32> raw_public(const EVP_PKEY* k, bool& ok) {
  std::array<std::uint8_t, 32> out{};
  std::size_t n = out.size();
  ok = EVP_PKEY_get_raw_public_key(k, out.data(), &n) == 1 && n == out.size();
  return out;
}

}  // namespace

struct Authority::Store {
  Owned<X509_STORE> store;
};

Authority::Authority(const std::filesystem::path& ca_file) : store_(std::make_unique<Store>()) {
  const auto fail = [&](const std::string& what) -> CertificateError {
    return CertificateError("CA file " + ca_file.string() + ": " + what);
  };
  ClearErrors clear;
  Owned<FILE> f = open_file(ca_file, "CA file");
  store_->store.reset(X509_STORE_new());
  if (!store_->store) throw fail("X509_STORE_new failed");
  int n = 0;
  ERR_clear_error();  // what is left on the queue below is this file's
  // PEM_read_X509 skips blocks of other kinds (a key, say) and stops at the
  // end of the file or at a certificate it cannot read.
  while (Owned<X509> x{PEM_read_X509(f.get(), nullptr, nullptr, nullptr)}) {
    ++n;
    // Caught here rather than at the first peer's certificate: a DC's own
    // certificate given as ca_file is the likely mistake.
    if (X509_check_ca(x.get()) == 0)
      throw fail("certificate " + std::to_string(n) + " in it is not a CA certificate");
    if (X509_STORE_add_cert(store_->store.get(), x.get()) != 1)
      throw fail("X509_STORE_add_cert failed");
  }
  const unsigned long e = ERR_peek_last_error();
  if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
    throw fail("certificate " + std::to_string(n + 1) + " in it is unreadable");
  if (n == 0) throw fail("no certificate in it");
  // Every CA of the file is a trust anchor, a root or not (partial chain),
  // and must have signed the DC's certificate itself (depth 0: no
  // intermediates, which the exchange does not carry).
  X509_STORE_set_flags(store_->store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_set_depth(store_->store.get(), 0);
}

Authority::~Authority() = default;
Authority::Authority(Authority&&) noexcept = default;
Authority& Authority::operator=(Authority&&) noexcept = default;

std::optional<PeerCertificate> Authority::verify(std::span<const std::uint8_t> der,
                                                 std::int64_t now, std::string& why) const {
  ClearErrors clear;
  if (!store_) {
    why = "no CA";
    return std::nullopt;
  }
  if (der.size() > kMaxDer) {
    why = "larger than " + std::to_string(kMaxDer) + " bytes";
    return std::nullopt;
  }
  const unsigned char* p = der.data();
  Owned<X509> x(der.empty() ? nullptr : d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  // Trailing bytes would be unsigned data riding along.
  if (!x || p != der.data() + der.size()) {
    why = "not a DER certificate";
    return std::nullopt;
  }

  Owned<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_->store.get(), x.get(), nullptr) != 1) {
    why = "X509_STORE_CTX_init failed";
    return std::nullopt;
  }
  // The caller's clock, not the system's: tests and the clock skew policy
  // decide what "now" is.
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), static_cast<time_t>(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    why = verify_error(X509_STORE_CTX_get_error(ctx.get()),
                       X509_STORE_CTX_get_error_depth(ctx.get()));
    return std::nullopt;
  }
  // With partial chains a certificate of the CA file is trusted as it
  // stands; as a DC's certificate it must have been issued by one of them.
  if (sk_X509_num(X509_STORE_CTX_get0_chain(ctx.get())) != 2) {
    why = "not issued by the configured CA";
    return std::nullopt;
  }

  PeerCertificate c;
  const EVP_PKEY* key = X509_get0_pubkey(x.get());
  bool ok = false;
  if (key && EVP_PKEY_get_id(key) == EVP_PKEY_X25519) c.public_key = raw_public(key, ok);
  if (!ok) {
    why = "not an X25519 key";
    return std::nullopt;
  }
  if (!dc_id_of(x.get(), c.dc_id)) {
    why = "no DC id in the subject CN";
    return std::nullopt;
  }
  if (!zones_of(x.get(), c.zones, why)) return std::nullopt;

  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(x.get()), &tm) != 1) {
    why = "unreadable notBefore";
    return std::nullopt;
  }
  c.not_before = static_cast<std::int64_t>(timegm(&tm));

  unsigned char md[32];
  unsigned int len = 0;
  if (EVP_Digest(c.public_key.data(), c.public_key.size(), md, &len, EVP_sha256(), nullptr) != 1 ||
      len != sizeof md) {
    why = "SHA-256 failed";
    return std::nullopt;
  }
  c.fingerprint_hex = hex(md);
  c.der.assign(der.begin(), der.end());
  return c;
}

std::vector<std::uint8_t> read_certificate_der(const std::filesystem::path& pem_file) {
  ClearErrors clear;
  Owned<FILE> f = open_file(pem_file, "certificate");
  Owned<X509> x(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!x) throw CertificateError("certificate " + pem_file.string() + ": no PEM certificate in it");
  const int n = i2d_X509(x.get(), nullptr);
  if (n <= 0) throw CertificateError("certificate " + pem_file.string() + ": cannot encode it");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(x.get(), &p);
  return der;
}

std::array<std::uint8_t, 32> shared_secret(const std::filesystem::path& private_key_file,
                                           const std::array<std::uint8_t, 32>& peer_public) {
  const auto fail = [&](const std::string& what) -> CertificateError {
    return CertificateError("DC key " + private_key_file.string() + ": " + what);
  };
  Owned<EVP_PKEY> own = read_x25519(private_key_file);
  ClearErrors clear;
  Owned<EVP_PKEY> peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(),
                                                   peer_public.size()));
  if (!peer) throw fail("the peer's public key is unusable");
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own.get(), nullptr));
  std::array<std::uint8_t, 32> out{};
  std::size_t n = out.size();
  static constexpr std::array<std::uint8_t, 32> kZero{};
  // OpenSSL refuses an all-zero result itself; checked again because a
  // peer that chose a low-order point must never get a key everyone knows.
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &n) != 1 || n != out.size() ||
      CRYPTO_memcmp(out.data(), kZero.data(), out.size()) == 0) {
    OPENSSL_cleanse(out.data(), out.size());
    throw fail("no X25519 shared secret with the peer's public key (a low-order point?)");
  }
  return out;
}

std::array<std::uint8_t, 32> public_key_of(const std::filesystem::path& private_key_file) {
  Owned<EVP_PKEY> k = read_x25519(private_key_file);
  bool ok = false;
  auto pub = raw_public(k.get(), ok);
  ERR_clear_error();
  if (!ok)
    throw CertificateError("DC key " + private_key_file.string() + ": cannot read the public key");
  return pub;
}

wire::SecretKey pairwise_key(const std::array<std::uint8_t, 32>& shared, const wire::DcId& self,
                             const std::array<std::uint8_t, 32>& self_public,
                             const wire::DcId& peer,
                             const std::array<std::uint8_t, 32>& peer_public) {
  // Ordered by id (and by key for the degenerate equal ids), so that both
  // ends build the same info.
  const bool self_first = std::tie(self.bytes, self_public) < std::tie(peer.bytes, peer_public);
  const wire::DcId& lo_id = self_first ? self : peer;
  const wire::DcId& hi_id = self_first ? peer : self;
  const auto& lo_key = self_first ? self_public : peer_public;
  const auto& hi_key = self_first ? peer_public : self_public;
  std::array<std::uint8_t, 2 * NTM_ID_LEN + 2 * 32> info{};
  std::uint8_t* p = info.data();
  p = std::copy(lo_id.bytes.begin(), lo_id.bytes.end(), p);
  p = std::copy(hi_id.bytes.begin(), hi_id.bytes.end(), p);
  p = std::copy(lo_key.begin(), lo_key.end(), p);
  std::copy(hi_key.begin(), hi_key.end(), p);

  // Fetched once: the provider lookup costs more than the derivation.
  static const Owned<EVP_KDF> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) throw CertificateError("EVP_KDF_fetch(HKDF) failed");
  Owned<EVP_KDF_CTX> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) throw CertificateError("EVP_KDF_CTX_new failed");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(shared.data()), shared.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSalt),
                                        sizeof kSalt - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  wire::SecretKey out;
  if (EVP_KDF_derive(ctx.get(), out.mutable_bytes().data(), wire::SecretKey::kSize, params) != 1)
    throw CertificateError("HKDF derive failed");
  return out;
}

}  // namespace ntm::dc::federation
