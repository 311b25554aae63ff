// SPDX-License-Identifier: MIT
#include "federation/trust.hpp"

#include <openssl/crypto.h>

#include "ntm/common/clock.hpp"

namespace ntm::dc::federation {

namespace {

std::int64_t now_s() {
  return static_cast<std::int64_t>(common::wall_ms() / 1000);
}

}  // namespace

CertificateTrust::CertificateTrust(const config::Config& cfg)
    : cfg_(cfg), ca_(cfg.federation.ca_file), key_file_(cfg.state_dir / "dc-key.pem") {
  const auto& file = cfg.federation.cert_file;
  const std::vector<std::uint8_t> der = read_certificate_der(file);
  std::string why;
  auto own = ca_.verify(der, now_s(), why);
  if (!own) throw CertificateError("[federation] cert_file " + file.string() + ": " + why);
  if (own->dc_id != cfg.dc_id)
    throw CertificateError("[federation] cert_file " + file.string() + ": issued to DC " +
                           own->dc_id.to_hex() + ", not to this DC's [dc] id " +
                           cfg.dc_id.to_hex());
  if (own->public_key != public_key_of(key_file_))
    throw CertificateError("[federation] cert_file " + file.string() +
                           ": not issued for the key in " + key_file_.string());
  for (const auto& z : own->zones) {
    bool ours = false;
    for (const auto& mine : cfg.zones) ours = ours || under_zone(z, mine);
    if (!ours)
      throw CertificateError("[federation] cert_file " + file.string() + ": names zone '" + z +
                             "', which this DC does not serve");
  }
  own_ = std::move(*own);
}

std::optional<PeerCertificate> CertificateTrust::check(std::span<const std::uint8_t> der,
                                                       std::string& why) const {
  auto c = ca_.verify(der, now_s(), why);
  if (!c) return std::nullopt;
  if (c->dc_id == cfg_.dc_id || c->public_key == own_.public_key) {
    why = "certificate of this DC";
    return std::nullopt;
  }
  for (const auto& p : cfg_.peers)
    if (p.dc_id == c->dc_id) {
      why = "DC " + c->dc_id.to_hex() + " is configured as [peer." + p.name + "]";
      return std::nullopt;
    }
  for (const auto& z : c->zones) {
    for (const auto& mine : cfg_.zones)
      if (zones_overlap(z, mine)) {
        why = "certificate names our zone '" + mine + "'";
        return std::nullopt;
      }
    for (const auto& p : cfg_.peers)
      for (const auto& pz : p.zones)
        if (zones_overlap(z, pz)) {
          why = "zone '" + z + "' belongs to [peer." + p.name + "]";
          return std::nullopt;
        }
  }
  return c;
}

config::Config::Peer CertificateTrust::peer_config(const PeerCertificate& c) const {
  config::Config::Peer p;
  p.name = c.zones.front() + "/" + c.dc_id.to_hex().substr(0, 8);
  p.dc_id = c.dc_id;
  std::array<std::uint8_t, 32> shared = shared_secret(key_file_, c.public_key);
  p.key = pairwise_key(shared, cfg_.dc_id, own_.public_key, c.dc_id, c.public_key);
  OPENSSL_cleanse(shared.data(), shared.size());  // only the derived key stays
  p.key_epoch = 0;
  p.zones = c.zones;
  return p;
}

bool CertificateTrust::supersedes(const PeerCertificate& c, const Peer& peer) noexcept {
  return peer.by_certificate() && c.dc_id == peer.config().dc_id &&
         c.not_before >= peer.not_before();
}

}  // namespace ntm::dc::federation
