// SPDX-License-Identifier: MIT
#include "ntm/wire/aead.hpp"

#include <openssl/evp.h>

#include <climits>
#include <stdexcept>
#include <utility>

namespace ntm::wire {

namespace {

EVP_CIPHER_CTX* make_ctx(const SecretKey& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  // The key is scheduled once here; per message only the nonce changes.
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.bytes().data(), nullptr,
                        encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("EVP_CipherInit_ex(aes-256-gcm) failed");
  }
  return ctx;
}

bool fits_int(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX); }

}  // namespace

Aead::Aead(const SecretKey& key) : enc_(make_ctx(key, true)) {
  try {
    dec_ = make_ctx(key, false);
  } catch (...) {
    EVP_CIPHER_CTX_free(enc_);
    throw;
  }
}

Aead::~Aead() {
  // EVP_CIPHER_CTX_free cleanses the key schedule.
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
}

Aead::Aead(Aead&& o) noexcept
    : enc_(std::exchange(o.enc_, nullptr)), dec_(std::exchange(o.dec_, nullptr)) {}

Aead& Aead::operator=(Aead&& o) noexcept {
  if (this != &o) {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
    enc_ = std::exchange(o.enc_, nullptr);
    dec_ = std::exchange(o.dec_, nullptr);
  }
  return *this;
}

Error Aead::rekey(const SecretKey& key) noexcept {
  if (!enc_ || !dec_) return Error::crypto_failure;
  if (EVP_CipherInit_ex(enc_, nullptr, nullptr, key.bytes().data(), nullptr, 1) != 1 ||
      EVP_CipherInit_ex(dec_, nullptr, nullptr, key.bytes().data(), nullptr, 0) != 1)
    return Error::crypto_failure;
  return Error::ok;
}

Error Aead::seal(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
                 Tag tag) noexcept {
  if (!enc_ || !fits_int(aad.size()) || !fits_int(data.size())) return Error::crypto_failure;
  int n = 0;
  if (EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce.data()) != 1)
    return Error::crypto_failure;
  if (!aad.empty() &&
      EVP_EncryptUpdate(enc_, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1)
    return Error::crypto_failure;
  if (!data.empty() && EVP_EncryptUpdate(enc_, data.data(), &n, data.data(),
                                         static_cast<int>(data.size())) != 1)
    return Error::crypto_failure;
  if (EVP_EncryptFinal_ex(enc_, data.data() + data.size(), &n) != 1) return Error::crypto_failure;
  if (EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_GCM_GET_TAG, NTM_TAG_LEN, tag.data()) != 1)
    return Error::crypto_failure;
  return Error::ok;
}

Error Aead::open(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
                 ConstTag tag) noexcept {
  if (!dec_ || !fits_int(aad.size()) || !fits_int(data.size())) return Error::crypto_failure;
  int n = 0;
  if (EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce.data()) != 1)
    return Error::crypto_failure;
  if (!aad.empty() &&
      EVP_DecryptUpdate(dec_, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1)
    return Error::crypto_failure;
  if (!data.empty() && EVP_DecryptUpdate(dec_, data.data(), &n, data.data(),
                                         static_cast<int>(data.size())) != 1)
    return Error::crypto_failure;
  // The tag is set before Final, which compares it in constant time.
  if (EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_GCM_SET_TAG, NTM_TAG_LEN,
                          const_cast<std::uint8_t*>(tag.data())) != 1)
    return Error::crypto_failure;
  if (EVP_DecryptFinal_ex(dec_, data.data() + data.size(), &n) != 1) return Error::auth_failed;
  return Error::ok;
}

}  // namespace ntm::wire
