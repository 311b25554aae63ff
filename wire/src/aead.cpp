// SPDX-License-Identifier: MIT
#include "ntm/wire/aead.hpp"

#include <openssl/evp.h>

#include <climits>
#include <utility>

namespace ntm::wire {

namespace {

bool fits_int(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX); }

}  // namespace

Aead::~Aead() {
  // EVP_CIPHER_CTX_free cleanses the key schedule; key_ cleanses itself.
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
}

Aead::Aead(Aead&& o) noexcept
    : key_(o.key_),
      enc_(std::exchange(o.enc_, nullptr)),
      dec_(std::exchange(o.dec_, nullptr)),
      enc_keyed_(std::exchange(o.enc_keyed_, false)),
      dec_keyed_(std::exchange(o.dec_keyed_, false)) {}

Aead& Aead::operator=(Aead&& o) noexcept {
  if (this != &o) {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
    key_ = o.key_;
    enc_ = std::exchange(o.enc_, nullptr);
    dec_ = std::exchange(o.dec_, nullptr);
    enc_keyed_ = std::exchange(o.enc_keyed_, false);
    dec_keyed_ = std::exchange(o.dec_keyed_, false);
  }
  return *this;
}

Error Aead::rekey(const SecretKey& key) noexcept {
  key_ = key;
  enc_keyed_ = dec_keyed_ = false;
  return Error::ok;
}

bool Aead::ready(EVP_CIPHER_CTX*& ctx, bool& keyed, bool encrypt) noexcept {
  if (keyed) return true;
  // A new context's first init also selects the cipher; later ones only
  // schedule the key.
  const EVP_CIPHER* cipher = ctx ? nullptr : EVP_aes_256_gcm();
  if (!ctx && !(ctx = EVP_CIPHER_CTX_new())) return false;
  if (EVP_CipherInit_ex(ctx, cipher, nullptr, key_.bytes().data(), nullptr, encrypt ? 1 : 0) != 1) {
    if (cipher) {  // a context without a cipher cannot be keyed later
      EVP_CIPHER_CTX_free(ctx);
      ctx = nullptr;
    }
    return false;
  }
  keyed = true;
  return true;
}

Error Aead::seal(Nonce nonce, std::span<const std::uint8_t> aad, std::span<std::uint8_t> data,
                 Tag tag) noexcept {
  if (!fits_int(aad.size()) || !fits_int(data.size()) || !ready(enc_, enc_keyed_, true))
    return Error::crypto_failure;
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
  if (!fits_int(aad.size()) || !fits_int(data.size()) || !ready(dec_, dec_keyed_, false))
    return Error::crypto_failure;
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
