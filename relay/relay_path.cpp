// SPDX-License-Identifier: MIT
#include "relay_path.hpp"

#include "ntm/common/clock.hpp"

namespace ntm::relay {

namespace {

wire::ChannelConfig channel_config(const wire::PathId& id, std::uint8_t epoch, wire::KeyDomain d,
                                   wire::Role tx, wire::Role rx) {
  wire::ChannelConfig c;
  c.domain = d;
  c.key_epoch = epoch;
  c.tx_role = tx;
  c.rx_role = rx;
  c.tx_id = c.rx_id = id.bytes;
  c.instance = wire::new_instance();
  c.first_counter = wire::initial_counter(common::wall_ns());
  return c;
}

std::unique_ptr<PathKeys> make_keys(const wire::RelayDirection& d, const wire::SecretKey& key) {
  auto k = std::make_unique<PathKeys>();
  k->epoch = d.key_epoch;
  using wire::KeyDomain;
  using wire::Role;
  if (d.mode == wire::RelayMode::forward) {
    k->channel[kInitiator] = std::make_unique<wire::ControlChannel>(
        key, channel_config(d.path_id, d.key_epoch, KeyDomain::relay_path, Role::rs_to_initiator,
                            Role::initiator));
    k->channel[kResponder] = std::make_unique<wire::ControlChannel>(
        key, channel_config(d.path_id, d.key_epoch, KeyDomain::relay_path, Role::rs_to_responder,
                            Role::responder));
  } else {
    k->channel[kInitiator] = std::make_unique<wire::ControlChannel>(
        key,
        channel_config(d.path_id, d.key_epoch, KeyDomain::path, Role::responder, Role::initiator));
    k->opener = std::make_unique<wire::CapsuleOpener>(key, Role::initiator, d.path_id, d.key_epoch);
    k->sealer = std::make_unique<wire::CapsuleSealer>(key, Role::responder, d.path_id, d.key_epoch);
  }
  return k;
}

std::uint64_t idle_ms(const wire::RelayDirection& d) {
  // A DC that sends 0 has no opinion: five minutes.
  return (d.idle_timeout_s ? d.idle_timeout_s : 300) * std::uint64_t{1000};
}

}  // namespace

bool epoch_newer(std::uint8_t a, std::uint8_t b) noexcept {
  const std::uint8_t diff = static_cast<std::uint8_t>(a - b);
  return diff != 0 && diff < 128;
}

PathKeys* RelayPath::keys_for(std::uint8_t epoch, std::uint64_t now_ms) noexcept {
  if (epoch == keys.epoch) return &keys;
  if (!previous || previous->epoch != epoch) return nullptr;
  if (now_ms > previous_until_ms) {
    previous.reset();
    return nullptr;
  }
  return previous.get();
}

void RelayPath::retire_previous_if_switched() noexcept {
  if (!previous) return;
  const bool all = mode == wire::RelayMode::forward ? keys.heard[kInitiator] && keys.heard[kResponder]
                                                    : keys.heard[kInitiator];
  if (all) previous.reset();
}

std::unique_ptr<RelayPath> make_path(const wire::RelayDirection& d, const wire::SecretKey& key,
                                     std::uint64_t now_ms) {
  auto p = std::make_unique<RelayPath>();
  p->id = d.path_id;
  p->key_epoch = d.key_epoch;
  p->mode = d.mode;
  p->initiator = d.initiator;
  p->responder = d.responder;
  p->idle_timeout_ms = idle_ms(d);
  p->last_active_ms = now_ms;
  p->keys = std::move(*make_keys(d, key));
  p->key = key;
  return p;
}

std::uint32_t host_address(const RelayPath& p) noexcept {
  const auto& a = p.responder.real.addr;
  if (a.family != wire::Family::v4) return 0;
  return (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) |
         (std::uint32_t{a.bytes[2]} << 8) | a.bytes[3];
}

RelayPath* PathTable::find_translate(std::uint32_t mn_vip, std::uint32_t host) noexcept {
  auto it = translate_.find(pair_key(mn_vip, host));
  return it == translate_.end() ? nullptr : it->second;
}

std::uint16_t PathTable::load_permille() const noexcept {
  const std::size_t l = paths_.size() * 1000 / (max_ ? max_ : 1);
  return static_cast<std::uint16_t>(l > 1000 ? 1000 : l);
}

RelayPath& PathTable::put(std::unique_ptr<RelayPath> p) {
  erase(p->id);
  touch();
  RelayPath& ref = *p;
  if (ref.mode == wire::RelayMode::translate)
    translate_[pair_key(ref.initiator.vip.addr, host_address(ref))] = &ref;
  paths_[ref.id] = std::move(p);
  return ref;
}

void PathTable::redirect(RelayPath& p, const wire::RelayDirection& d, const wire::SecretKey& key,
                         std::uint64_t now_ms) {
  unindex(p);
  touch();
  auto old = std::make_unique<PathKeys>(std::move(p.keys));
  p.keys = std::move(*make_keys(d, key));
  p.key = key;
  p.previous = std::move(old);
  p.previous_until_ms = now_ms + kSwitchGraceMs;
  p.key_epoch = d.key_epoch;
  p.initiator = d.initiator;
  p.responder = d.responder;
  p.idle_timeout_ms = idle_ms(d);
  p.last_active_ms = now_ms;
  ++p.redirections;
  if (p.mode == wire::RelayMode::translate)
    translate_[pair_key(p.initiator.vip.addr, host_address(p))] = &p;
}

void PathTable::unindex(const RelayPath& p) {
  if (p.mode != wire::RelayMode::translate) return;
  auto it = translate_.find(pair_key(p.initiator.vip.addr, host_address(p)));
  if (it != translate_.end() && it->second == &p) translate_.erase(it);
}

void PathTable::erase(const wire::PathId& id) {
  auto it = paths_.find(id);
  if (it == paths_.end()) return;
  unindex(*it->second);
  paths_.erase(it);
  touch();
}

std::size_t PathTable::expire(std::uint64_t now_ms,
                              const std::function<void(const RelayPath&)>& gone) {
  std::size_t n = 0;
  for (auto it = paths_.begin(); it != paths_.end();) {
    const RelayPath& p = *it->second;
    if (now_ms > p.last_active_ms && now_ms - p.last_active_ms > p.idle_timeout_ms) {
      if (gone) gone(p);
      unindex(p);
      it = paths_.erase(it);
      ++n;
      touch();
    } else {
      RelayPath& q = *it->second;
      if (q.previous && now_ms > q.previous_until_ms) {
        q.previous.reset();
        touch();
      }
      ++it;
    }
  }
  return n;
}

}  // namespace ntm::relay
