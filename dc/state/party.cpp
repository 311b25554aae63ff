// SPDX-License-Identifier: MIT
#include "state/party.hpp"

#include <algorithm>

#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace ntm::dc::state {

bool RateLimiter::allow(std::uint64_t now_ms, unsigned rate_per_s) noexcept {
  const double burst = 2.0 * rate_per_s;
  if (tokens_ < 0) {
    tokens_ = burst;
  } else if (now_ms > last_ms_) {
    tokens_ = std::min(burst, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_per_s / 1000.0);
  }
  last_ms_ = std::max(last_ms_, now_ms);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void Party::derive_keys() {
  rx_key = wire::derive_key(key, wire::KeyDomain::node_dc, wire::Role::node,
                            wire::Purpose::control, key_epoch, id.bytes);
  tx_key = wire::derive_key(key, wire::KeyDomain::node_dc, wire::Role::dc,
                            wire::Purpose::control, key_epoch, id.bytes);
  wrap_key_cache.reset();
}

const wire::SecretKey* Party::rx_key_for(std::uint8_t epoch, std::uint64_t now_ms) const noexcept {
  if (epoch == key_epoch) return &rx_key;
  if (prev && epoch == prev->epoch && now_ms < prev->until_ms) return &prev->rx_key;
  return nullptr;
}

void Party::keep_previous(const std::optional<wire::SecretKey>& old_key, std::uint64_t until_ms,
                          std::uint64_t now_ms) {
  const auto epoch = static_cast<std::uint8_t>(key_epoch - 1);
  if (!old_key || now_ms >= until_ms) {
    prev.reset();
    speaks_prev = false;
    return;
  }
  if (prev && prev->key.equals(*old_key) && prev->epoch == epoch) {
    prev->until_ms = until_ms;
    return;
  }
  prev = std::make_unique<PreviousKey>();
  prev->key = *old_key;
  prev->epoch = epoch;
  prev->until_ms = until_ms;
  prev->rx_key = wire::derive_key(*old_key, wire::KeyDomain::node_dc, wire::Role::node,
                                  wire::Purpose::control, epoch, id.bytes);
  prev->tx_key = wire::derive_key(*old_key, wire::KeyDomain::node_dc, wire::Role::dc,
                                  wire::Purpose::control, epoch, id.bytes);
}

const wire::SecretKey& Party::wrap_key() {
  if (speaks_prev && prev) {
    if (!prev->wrap_key)
      prev->wrap_key =
          wire::derive_wrap_key(prev->key, wire::KeyDomain::node_dc, prev->epoch, id.bytes);
    return *prev->wrap_key;
  }
  if (!wrap_key_cache)
    wrap_key_cache = wire::derive_wrap_key(key, wire::KeyDomain::node_dc, key_epoch, id.bytes);
  return *wrap_key_cache;
}

wire::NodeInfo Party::info(const wire::Endpoint& dc_endpoint) const {
  wire::NodeInfo n;
  n.node_id = id;
  n.fqdn.name = name;
  n.vip = vip;
  if (!local.empty()) n.real = local.front();
  if (behind_nat) n.nat = observed;
  n.dc = dc_endpoint;
  return n;
}

}  // namespace ntm::dc::state
