// SPDX-License-Identifier: MIT
#include "ntm/wire/key_schedule.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace ntm::wire {

namespace {

constexpr char kSalt[] = "NTMobile v1 salt";
constexpr char kLabel[] = "NTMobile v1 key";

struct KdfDeleter {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

}  // namespace

SecretKey derive_key(const SecretKey& base, KeyDomain domain, Role role, Purpose purpose,
                     std::uint8_t epoch, const IdBytes& id) {
  std::array<std::uint8_t, sizeof kLabel - 1 + 4 + NTM_ID_LEN> info{};
  std::size_t n = sizeof kLabel - 1;
  std::memcpy(info.data(), kLabel, n);
  info[n++] = static_cast<std::uint8_t>(domain);
  info[n++] = static_cast<std::uint8_t>(role);
  info[n++] = static_cast<std::uint8_t>(purpose);
  info[n++] = epoch;
  std::memcpy(info.data() + n, id.data(), id.size());

  // Fetched once: the provider lookup costs more than the derivation.
  static const std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) throw std::runtime_error("EVP_KDF_fetch(HKDF) failed");
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) throw std::runtime_error("EVP_KDF_CTX_new failed");

  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(base.bytes().data()),
                                        SecretKey::kSize),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSalt),
                                        sizeof kSalt - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  SecretKey out;
  if (EVP_KDF_derive(ctx.get(), out.mutable_bytes().data(), SecretKey::kSize, params) != 1)
    throw std::runtime_error("HKDF derive failed");
  return out;
}

}  // namespace ntm::wire
