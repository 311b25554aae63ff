// SPDX-License-Identifier: MIT
// A 256-bit secret that is wiped (OPENSSL_cleanse) when it goes away.
// It has no operator<< and no to_string: secrets never reach a log by
// accident.  to_hex exists only for writing key files.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ntm/wire.h"

namespace ntm::wire {

class SecretKey {
 public:
  static constexpr std::size_t kSize = NTM_KEY_LEN;

  SecretKey() noexcept = default;
  explicit SecretKey(std::span<const std::uint8_t, kSize> bytes) noexcept;
  SecretKey(const SecretKey& o) noexcept;
  SecretKey& operator=(const SecretKey& o) noexcept;
  ~SecretKey();

  // 32 bytes from OpenSSL's private DRBG; throws std::runtime_error if the
  // DRBG fails (a key must never be weak).
  static SecretKey random();
  // Parses exactly 64 hex digits.
  static bool from_hex(std::string_view hex, SecretKey& out);
  std::string to_hex() const;

  std::span<const std::uint8_t, kSize> bytes() const noexcept { return bytes_; }
  std::span<std::uint8_t, kSize> mutable_bytes() noexcept { return bytes_; }
  // Constant-time comparison.
  bool equals(const SecretKey& o) const noexcept;

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

// Fills out from OpenSSL's public DRBG (nonces, IDs, instances); throws
// std::runtime_error on failure.
void random_bytes(std::span<std::uint8_t> out);

}  // namespace ntm::wire
