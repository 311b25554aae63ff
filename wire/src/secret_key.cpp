// SPDX-License-Identifier: MIT
#include "ntm/wire/secret_key.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace ntm::wire {

SecretKey::SecretKey(std::span<const std::uint8_t, kSize> bytes) noexcept {
  std::memcpy(bytes_.data(), bytes.data(), kSize);
}

SecretKey::SecretKey(const SecretKey& o) noexcept : bytes_(o.bytes_) {}

SecretKey& SecretKey::operator=(const SecretKey& o) noexcept {
  bytes_ = o.bytes_;
  return *this;
}

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

SecretKey SecretKey::random() {
  SecretKey k;
  if (RAND_priv_bytes(k.bytes_.data(), static_cast<int>(kSize)) != 1)
    throw std::runtime_error("RAND_priv_bytes failed");
  return k;
}

bool SecretKey::from_hex(std::string_view hex, SecretKey& out) {
  if (hex.size() != 2 * kSize) return false;
  SecretKey k;
  for (std::size_t i = 0; i < kSize; ++i) {
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      char c = hex[2 * i + j];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    k.bytes_[i] = static_cast<std::uint8_t>(v);
  }
  out = k;
  return true;
}

std::string SecretKey::to_hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * kSize);
  for (auto b : bytes_) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

bool SecretKey::equals(const SecretKey& o) const noexcept {
  return CRYPTO_memcmp(bytes_.data(), o.bytes_.data(), kSize) == 0;
}

void random_bytes(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
}

}  // namespace ntm::wire
