// SPDX-License-Identifier: MIT
// AES-256-GCM with one key at a time, through OpenSSL EVP.  Each cipher
// context is set up with the key once, on its first use; each seal/open
// then only sets the nonce, so the per-packet path allocates nothing.
//
// Why lazily, one direction at a time: under OpenSSL 3 keying a GCM context
// is the costly step (key schedule, GHASH tables, provider parameter
// look-ups), and most users need one direction per key.  The DC and the
// load generator rekey one Aead per message and only ever seal or only
// open under that key, so keying both contexts up front did twice the work;
// an Aead kept per node for sealing only never creates its opening context.
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
  // Creates no OpenSSL context yet: a context that OpenSSL cannot set up
  // shows as Error::crypto_failure from the first seal or open.
  explicit Aead(const SecretKey& key) noexcept : key_(key) {}
  ~Aead();
  Aead(Aead&& o) noexcept;
  Aead& operator=(Aead&& o) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  // Replaces the key; the contexts are rekeyed when next used, and reused
  // (no allocation): lets one Aead serve many peers whose keys are kept
  // elsewhere, as the DC does.  Cannot fail; returns Error::ok.
  Error rekey(const SecretKey& key) noexcept;

  // Encrypts data in place and writes the tag.
  Error seal(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
             Tag tag) noexcept;
  // Checks the tag and decrypts data in place.  On auth_failed the content
  // of data is unspecified and must be discarded.
  Error open(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
             ConstTag tag) noexcept;

 private:
  // Creates ctx if need be and keys it with key_ unless keyed says it is.
  bool ready(EVP_CIPHER_CTX*& ctx, bool& keyed, bool encrypt) noexcept;

  SecretKey key_;
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
  bool enc_keyed_ = false;  // enc_ holds key_'s schedule
  bool dec_keyed_ = false;
};

}  // namespace ntm::wire
