// SPDX-License-Identifier: MIT
#include "state/view.hpp"

#include "ntm/common/clock.hpp"

namespace ntm::dc::state {

Party& View::upsert(const store::PartyRow& row) {
  auto& slot = parties_[row.id];
  if (!slot) slot = std::make_unique<Party>();
  Party& p = *slot;
  if (p.kind == PartyKind::node && !p.name.empty()) {
    by_fqdn_.erase(p.name);
    by_vip_.erase(p.vip.addr);
  }
  const bool key_changed = !p.key.equals(row.key) || p.key_epoch != row.key_epoch;
  p.kind = row.relay ? PartyKind::relay : PartyKind::node;
  p.id = row.id;
  p.name = row.name;
  p.zone_id = row.zone_id;
  p.key = row.key;
  p.key_epoch = row.key_epoch;
  p.vip.addr = row.vip;
  p.local = row.local;
  p.observed = row.observed;
  p.behind_nat = row.behind_nat;
  p.symmetric_nat = row.symmetric_nat;
  p.online = row.online;
  p.last_seen_ms = row.last_seen_ms;
  p.last_persisted_seen_ms = row.last_seen_ms;
  p.active_paths = row.active_paths;
  p.load_permille = row.load_permille;
  if (key_changed) {
    p.derive_keys();
    p.replay = {};
  }
  // Loaded during a re-key's grace period: the party most likely still
  // holds the old key, since the first message under the new one ends the
  // grace in the database (KeyRetireWrite).
  p.keep_previous(row.prev_key, row.prev_key_until_ms, common::wall_ms());
  if (key_changed) p.speaks_prev = p.prev != nullptr;
  if (p.kind == PartyKind::node) {
    by_fqdn_[p.name] = &p;
    by_vip_[p.vip.addr] = &p;
    relays_.erase(p.id);
  } else {
    relays_[p.id] = &p;
  }
  return p;
}

std::vector<Path> View::remove(const wire::NodeId& id) {
  std::vector<Path> gone;
  auto it = parties_.find(id);
  if (it == parties_.end()) return gone;
  if (it->second->kind == PartyKind::node) {
    by_fqdn_.erase(it->second->name);
    by_vip_.erase(it->second->vip.addr);
  }
  relays_.erase(id);
  parties_.erase(it);
  // Removal is rare (revocation): a scan is fine here, and it also finds
  // the paths a removed relay carried.
  for (auto p = paths_.begin(); p != paths_.end();) {
    const Path& path = p->second;
    if (path.initiator == id || (path.responder && *path.responder == id) ||
        (path.relay && *path.relay == id)) {
      gone.push_back(path);
      unindex_path(path);
      p = paths_.erase(p);
    } else {
      ++p;
    }
  }
  return gone;
}

Party* View::find(const wire::NodeId& id) {
  auto it = parties_.find(id);
  return it == parties_.end() ? nullptr : it->second.get();
}

Party* View::find_node(const std::string& fqdn) {
  auto it = by_fqdn_.find(fqdn);
  return it == by_fqdn_.end() ? nullptr : it->second;
}

Party* View::find_vip(std::uint32_t vip) {
  auto it = by_vip_.find(vip);
  return it == by_vip_.end() ? nullptr : it->second;
}

std::vector<Party*> View::relays() {
  std::vector<Party*> out;
  out.reserve(relays_.size());
  for (auto& [id, p] : relays_) out.push_back(p);
  return out;
}

Path* View::find_path(const wire::PathId& id) {
  auto it = paths_.find(id);
  return it == paths_.end() ? nullptr : &it->second;
}

void View::index_path(const Path& p) {
  paths_by_node_[p.initiator].push_back(p.id);
  if (p.responder) paths_by_node_[*p.responder].push_back(p.id);
}

void View::unindex_path(const Path& p) {
  auto drop = [&](const wire::NodeId& n) {
    auto it = paths_by_node_.find(n);
    if (it == paths_by_node_.end()) return;
    std::erase(it->second, p.id);
    if (it->second.empty()) paths_by_node_.erase(it);
  };
  drop(p.initiator);
  if (p.responder) drop(*p.responder);
}

Path& View::put_path(const Path& p) {
  auto it = paths_.find(p.id);
  if (it != paths_.end()) {
    unindex_path(it->second);
    it->second = p;
  } else {
    it = paths_.emplace(p.id, p).first;
  }
  index_path(it->second);
  return it->second;
}

void View::erase_path(const wire::PathId& id) {
  auto it = paths_.find(id);
  if (it == paths_.end()) return;
  unindex_path(it->second);
  paths_.erase(it);
}

std::vector<Path*> View::paths_of(const wire::NodeId& id) {
  std::vector<Path*> out;
  auto it = paths_by_node_.find(id);
  if (it == paths_by_node_.end()) return out;
  for (const auto& pid : it->second)
    if (auto p = paths_.find(pid); p != paths_.end()) out.push_back(&p->second);
  return out;
}

}  // namespace ntm::dc::state
