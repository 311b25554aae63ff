// SPDX-License-Identifier: MIT
#include "federation/peer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

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

bool zones_overlap(std::string_view a, std::string_view b) noexcept {
  return under_zone(a, b) || under_zone(b, a);
}

Peer::Peer(const config::Config::Peer& cfg, const wire::DcId& self, std::uint32_t instance,
           std::uint64_t max_skew_ms)
    : cfg_(cfg), self_(self), instance_(instance), max_skew_ms_(max_skew_ms), keys_(make_keys()) {}

std::unique_ptr<Peer::Keys> Peer::make_keys() const {
  return std::unique_ptr<Keys>(new Keys{
      wire::ControlChannel(cfg_.key, channel_config(cfg_, self_, instance_, max_skew_ms_)),
      // Keys sealed to a DC use the recipient's id (protocol.md §11.2).
      wire::KeyWrapper(cfg_.key, wire::KeyDomain::dc_peer, cfg_.key_epoch, cfg_.dc_id.bytes),
      wire::KeyWrapper(cfg_.key, wire::KeyDomain::dc_peer, cfg_.key_epoch, self_.bytes)});
}

void Peer::rekey(const config::Config::Peer& cfg) {
  cfg_ = cfg;
  keys_ = make_keys();
}

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
  const std::size_t n = keys_->channel.seal(body, txid, common::wall_ms(), out, err);
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
  const wire::Error e = keys_->channel.open(datagram, common::wall_ms(), out);
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
  return keys_->to_peer.seal(key, path, epoch, kind);
}

wire::Error Peer::open_key(const wire::SealedKey& sealed, const wire::PathId& path,
                           std::uint8_t epoch, wire::SealedKind kind, wire::SecretKey& out) {
  return keys_->to_us.open(sealed, path, epoch, kind, out);
}

PeerTable::PeerTable(const config::Config& cfg)
    : self_(cfg.dc_id), instance_(wire::new_instance()), max_skew_ms_(cfg.max_skew_s * 1000ull) {
  for (const auto& p : cfg.peers)
    peers_.push_back(std::make_unique<Peer>(p, self_, instance_, max_skew_ms_));
}

Peer* PeerTable::add(const config::Config::Peer& cfg, std::size_t max) {
  if (by_certificate() >= max) return nullptr;
  peers_.push_back(std::make_unique<Peer>(cfg, self_, instance_, max_skew_ms_));
  return peers_.back().get();
}

std::size_t PeerTable::by_certificate() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      peers_.begin(), peers_.end(), [](const auto& p) { return p->by_certificate(); }));
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
