// SPDX-License-Identifier: MIT
// Certificate trust between DCs (docs/federation.md §8): this DC's own
// certificate, the CA that issues its peers' certificates, and what a
// peer's certificate must be to make it a peer.  The DNS pin (the key's
// fingerprint in _ntm-dc.<zone>) is looked up by the control server,
// which owns the resolver; everything here is synchronous.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "federation/certificate.hpp"
#include "federation/peer.hpp"

namespace ntm::dc::federation {

class CertificateTrust {
 public:
  // Reads [federation] ca_file and cert_file and state_dir/dc-key.pem.
  // Throws CertificateError when this DC's own certificate is not one its
  // peers would accept: not issued by the CA, expired, for another key
  // than dc-key.pem's, for another DC id, or for zones that are not ours.
  explicit CertificateTrust(const config::Config& cfg);

  const std::vector<std::uint8_t>& own_certificate() const noexcept { return own_.der; }

  // A peer's certificate as it arrived, checked against the CA and against
  // what this DC knows: not our DC id, not a configured peer's, no zone of
  // ours or of a configured peer.  nullopt and why otherwise.
  std::optional<PeerCertificate> check(std::span<const std::uint8_t> der, std::string& why) const;

  // The peer entry a checked certificate makes: the key derived from our
  // dc-key.pem and its key, the zones it names.  Throws CertificateError
  // only if the key file became unreadable.
  config::Config::Peer peer_config(const PeerCertificate& c) const;

  // Whether `peer` may be replaced by the holder of `c`: the same DC id, and
  // a certificate at least as new (an old certificate replayed within the
  // clock skew cannot roll a peer's key back).
  static bool supersedes(const PeerCertificate& c, const Peer& peer) noexcept;

 private:
  const config::Config& cfg_;
  Authority ca_;
  PeerCertificate own_;
  std::filesystem::path key_file_;
};

}  // namespace ntm::dc::federation
