// SPDX-License-Identifier: MIT
#include "federation/peer.hpp"

#include <spdlog/spdlog.h>

#include "ntm/common/clock.hpp"
#include "ntm/wire.h"

namespace ntm::dc::federation {

namespace {

wire::ChannelConfig channel_config(const config::Config::Peer& p, const wire::DcId& self,
                                   std::uint32_t instance, std::uint64_t max_skew_ms) {
  wire::ChannelConfig c;
  c.domain = wire::KeyDomain::dc_peer;
  c.key_epoch = p.key_epoch;
  // One role in DC_PEER: the two directions differ by the sending DC's id.
  c.tx_role = wire::Role::peer_dc;
  c.rx_role = wire::Role::peer_dc;
  c.tx_id = self.bytes;
  c.rx_id = p.dc_id.bytes;
  // The server's instance: every process of a DC cluster has its own.
  c.instance = instance;
  c.first_counter = wire::initial_counter(common::wall_ns());
  c.max_skew_ms = max_skew_ms;
  return c;
}

}  // namespace

bool under_zone(std::string_view name, std::string_view zone) noexcept {
  return name == zone || (name.size() > zone.size() && name.ends_with(zone) &&
                          name[name.size() - zone.size() - 1] == '.');
}

Peer::Peer(const config::Config::Peer& cfg, const wire::DcId& self, std::uint32_t instance,
           std::uint64_t max_skew_ms)
    : cfg_(cfg),
      channel_(cfg.key, channel_config(cfg, self, instance, max_skew_ms)),
      // Keys sealed to a DC use the recipient's id (protocol.md §11.2).
      to_peer_(cfg.key, wire::KeyDomain::dc_peer, cfg.key_epoch, cfg.dc_id.bytes),
      to_us_(cfg.key, wire::KeyDomain::dc_peer, cfg.key_epoch, self.bytes) {}

std::size_t Peer::zone_match(std::string_view name) const noexcept {
  std::size_t best = 0;
  for (const auto& z : cfg_.zones)
    if (under_zone(name, z)) best = std::max(best, z.size());
  return best;
}

wire::Endpoint Peer::endpoint() const noexcept {
  return cfg_.endpoints.empty() ? learned_ : cfg_.endpoints.front();
}

std::vector<std::uint8_t> Peer::seal(const wire::Body& body, std::uint32_t txid) {
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  const std::size_t n = channel_.seal(body, txid, common::wall_ms(), out, err);
  if (n == 0) {
    spdlog::error("federation: cannot seal {} for peer {}: {}",
                  wire::to_string(wire::type_of(body)), cfg_.name, wire::to_string(err));
    out.clear();
    return out;
  }
  out.resize(n);
  stats.sent++;
  return out;
}

wire::Error Peer::open(std::span<const std::uint8_t> datagram, wire::Received& out) {
  const wire::Error e = channel_.open(datagram, common::wall_ms(), out);
  switch (e) {
    case wire::Error::ok: stats.received++; break;
    case wire::Error::auth_failed: stats.auth_failed++; break;
    case wire::Error::replayed:
    case wire::Error::too_many_senders: stats.replayed++; break;
    case wire::Error::stale: stats.stale++; break;
    default: stats.bad++; break;
  }
  return e;
}

wire::SealedKey Peer::seal_key(const wire::SecretKey& key, const wire::PathId& path,
                               std::uint8_t epoch, wire::SealedKind kind) {
  return to_peer_.seal(key, path, epoch, kind);
}

wire::Error Peer::open_key(const wire::SealedKey& sealed, const wire::PathId& path,
                           std::uint8_t epoch, wire::SealedKind kind, wire::SecretKey& out) {
  return to_us_.open(sealed, path, epoch, kind, out);
}

PeerTable::PeerTable(const config::Config& cfg) {
  const std::uint32_t instance = wire::new_instance();
  for (const auto& p : cfg.peers)
    peers_.push_back(std::make_unique<Peer>(p, cfg.dc_id, instance, cfg.max_skew_s * 1000ull));
}

Peer* PeerTable::by_header(const wire::Header& h) noexcept {
  if (h.domain != wire::KeyDomain::dc_peer) return nullptr;
  for (auto& p : peers_)
    if (p->config().dc_id.bytes == h.id && p->config().key_epoch == h.key_epoch) return p.get();
  return nullptr;
}

Peer* PeerTable::for_name(std::string_view name) noexcept {
  Peer* best = nullptr;
  std::size_t len = 0;
  for (auto& p : peers_)
    if (const std::size_t m = p->zone_match(name); m > len) {
      len = m;
      best = p.get();
    }
  return best;
}

}  // namespace ntm::dc::federation
