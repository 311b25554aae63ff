// SPDX-License-Identifier: MIT
// AES-256-GCM with one fixed key, through OpenSSL EVP.  The cipher contexts
// are set up once with the key; each seal/open only sets the nonce, so the
// per-packet path allocates nothing.
#pragma once

#include <cstdint>
#include <span>

#include "ntm/wire.h"
#include "ntm/wire/error.hpp"
#include "ntm/wire/secret_key.hpp"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace ntm::wire {

using Nonce = std::span<const std::uint8_t, NTM_NONCE_LEN>;
using Tag = std::span<std::uint8_t, NTM_TAG_LEN>;
using ConstTag = std::span<const std::uint8_t, NTM_TAG_LEN>;

class Aead {
 public:
  // Throws std::runtime_error if OpenSSL cannot set up the contexts.
  explicit Aead(const SecretKey& key);
  ~Aead();
  Aead(Aead&& o) noexcept;
  Aead& operator=(Aead&& o) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  // Replaces the key, reusing the contexts (no allocation): lets one Aead
  // serve many peers whose keys are kept elsewhere, as the DC does.
  Error rekey(const SecretKey& key) noexcept;

  // Encrypts data in place and writes the tag.
  Error seal(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
             Tag tag) noexcept;
  // Checks the tag and decrypts data in place.  On auth_failed the content
  // of data is unspecified and must be discarded.
  Error open(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
             ConstTag tag) noexcept;

 private:
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

}  // namespace ntm::wire
