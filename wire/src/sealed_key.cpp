// SPDX-License-Identifier: MIT
#include "ntm/wire/sealed_key.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

namespace ntm::wire {

namespace {

constexpr char kAadLabel[] = "NTMobile v1 sealed key";
using Aad = std::array<std::uint8_t, sizeof kAadLabel - 1 + 2 + NTM_ID_LEN>;

Aad make_aad(const PathId& path, std::uint8_t epoch, SealedKind kind) {
  Aad aad{};
  std::size_t n = sizeof kAadLabel - 1;
  std::memcpy(aad.data(), kAadLabel, n);
  aad[n++] = static_cast<std::uint8_t>(kind);
  aad[n++] = epoch;
  std::memcpy(aad.data() + n, path.bytes.data(), NTM_ID_LEN);
  return aad;
}

// The DC is always the sealer towards nodes and relays; DC-to-DC has one role.
Role wrap_role(KeyDomain d) { return d == KeyDomain::dc_peer ? Role::peer_dc : Role::dc; }

}  // namespace

SecretKey derive_wrap_key(const SecretKey& base, KeyDomain domain, std::uint8_t base_epoch,
                          const IdBytes& recipient_id) {
  return derive_key(base, domain, wrap_role(domain), Purpose::key_wrap, base_epoch, recipient_id);
}

KeyWrapper::KeyWrapper(const SecretKey& base, KeyDomain domain, std::uint8_t base_epoch,
                       const IdBytes& recipient_id)
    : aead_(derive_wrap_key(base, domain, base_epoch, recipient_id)) {}

SealedKey KeyWrapper::seal(const SecretKey& key, const PathId& path, std::uint8_t path_epoch,
                           SealedKind kind) {
  SealedKey out;
  auto nonce = std::span<std::uint8_t, NTM_NONCE_LEN>(out.bytes.data(), NTM_NONCE_LEN);
  random_bytes(nonce);
  auto ct = std::span<std::uint8_t>(out.bytes.data() + NTM_NONCE_LEN, NTM_KEY_LEN);
  std::memcpy(ct.data(), key.bytes().data(), NTM_KEY_LEN);
  const Aad aad = make_aad(path, path_epoch, kind);
  auto tag = Tag(out.bytes.data() + NTM_NONCE_LEN + NTM_KEY_LEN, NTM_TAG_LEN);
  if (aead_.seal(Nonce(out.bytes.data(), NTM_NONCE_LEN), aad, ct, tag) != Error::ok) {
    std::memset(out.bytes.data(), 0, out.bytes.size());
    throw std::runtime_error("sealing a key failed");
  }
  return out;
}

Error KeyWrapper::open(const SealedKey& sealed, const PathId& path, std::uint8_t path_epoch,
                       SealedKind kind, SecretKey& out) noexcept {
  SecretKey tmp(std::span<const std::uint8_t, NTM_KEY_LEN>(sealed.bytes.data() + NTM_NONCE_LEN,
                                                           NTM_KEY_LEN));
  const Aad aad = make_aad(path, path_epoch, kind);
  Error e = aead_.open(Nonce(sealed.bytes.data(), NTM_NONCE_LEN), aad, tmp.mutable_bytes(),
                       ConstTag(sealed.bytes.data() + NTM_NONCE_LEN + NTM_KEY_LEN, NTM_TAG_LEN));
  if (e == Error::ok) out = tmp;
  return e;  // tmp is wiped by its destructor either way
}

}  // namespace ntm::wire
