// SPDX-License-Identifier: MIT
// DC-to-DC trust by certificate (docs/federation.md §8).  An operator's CA
// issues each DC a certificate for the X25519 key in its dc-key.pem: the
// subject CN is the DC id (32 lower-case hex digits), the subjectAltName
// dNSName entries are the zones it serves.  Two DCs exchange certificates,
// check them against the CA file and derive their DC_PEER key from
// X25519(own private key, peer's public key); no key is configured per peer.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::dc::federation {

struct PeerCertificate {
  wire::DcId dc_id;                           // subject CN, 32 hex digits
  std::vector<std::string> zones;             // subjectAltName dNSName entries, canonical
  std::array<std::uint8_t, 32> public_key{};  // raw X25519 public key
  std::string fingerprint_hex;                // SHA-256 of public_key, lower-case hex (_ntm-dc fp=)
  std::int64_t not_before = 0;                // unix seconds
  std::vector<std::uint8_t> der;              // the certificate as received
};

class CertificateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The configured CA(s): a PEM file with one or more CA certificates.  Each
// of them is a trust anchor, and a DC's certificate must be issued by one
// of them directly (no intermediates travel in the exchange).
class Authority {
 public:
  // Throws CertificateError naming the file: unreadable, a broken
  // certificate in it, or no certificate at all.
  explicit Authority(const std::filesystem::path& ca_file);
  ~Authority();
  Authority(Authority&&) noexcept;
  Authority& operator=(Authority&&) noexcept;

  // The certificate of a peer DC, if this CA issued it for an X25519 key,
  // it is valid at `now` (unix seconds), names a DC id in its CN and at
  // least one zone, each a valid DNS name.  nullopt and a short reason in
  // why otherwise.  DER larger than kMaxDer is refused unparsed.  Never
  // throws on bad input.
  std::optional<PeerCertificate> verify(std::span<const std::uint8_t> der, std::int64_t now,
                                        std::string& why) const;

  // A certificate travels in one control datagram.
  static constexpr std::size_t kMaxDer = 1200;

 private:
  struct Store;
  std::unique_ptr<Store> store_;
};

// The DER bytes of the (first) certificate in a PEM file: this DC's own.
// Throws CertificateError naming the file.
std::vector<std::uint8_t> read_certificate_der(const std::filesystem::path& pem_file);

// X25519(private key in the PEM file, peer_public).  Throws CertificateError
// naming the file (never key bytes) when it is unreadable or not X25519, or
// when the result is all zero (peer_public is a low-order point).
std::array<std::uint8_t, 32> shared_secret(const std::filesystem::path& private_key_file,
                                           const std::array<std::uint8_t, 32>& peer_public);

// The raw public key of the X25519 PEM private key file.  Throws
// CertificateError naming the file.
std::array<std::uint8_t, 32> public_key_of(const std::filesystem::path& private_key_file);

// The pairwise DC_PEER base key: HKDF-SHA-256 of shared, salt
// "ntm1 dc-peer cert", info = lower DC id || higher DC id || the lower's
// public key || the higher's.  Symmetric, so both DCs derive the same key;
// binding the ids and keys makes it change when either DC's key does.
wire::SecretKey pairwise_key(const std::array<std::uint8_t, 32>& shared, const wire::DcId& self,
                             const std::array<std::uint8_t, 32>& self_public,
                             const wire::DcId& peer,
                             const std::array<std::uint8_t, 32>& peer_public);

}  // namespace ntm::dc::federation
