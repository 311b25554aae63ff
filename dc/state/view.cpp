// SPDX-License-Identifier: MIT
#include "state/view.hpp"

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
  if (p.kind == PartyKind::node) {
    by_fqdn_[p.name] = &p;
    by_vip_[p.vip.addr] = &p;
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
  parties_.erase(it);
  for (auto p = paths_.begin(); p != paths_.end();) {
    const Path& path = p->second;
    if (path.initiator == id || (path.responder && *path.responder == id) ||
        (path.relay && *path.relay == id)) {
      gone.push_back(path);
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
  for (auto& [id, p] : parties_)
    if (p->kind == PartyKind::relay) out.push_back(p.get());
  return out;
}

Path* View::find_path(const wire::PathId& id) {
  auto it = paths_.find(id);
  return it == paths_.end() ? nullptr : &it->second;
}

Path& View::put_path(const Path& p) { return paths_[p.id] = p; }

void View::erase_path(const wire::PathId& id) { paths_.erase(id); }

std::vector<Path*> View::paths_of(const wire::NodeId& id) {
  std::vector<Path*> out;
  for (auto& [pid, p] : paths_)
    if (p.initiator == id || (p.responder && *p.responder == id)) out.push_back(&p);
  return out;
}

}  // namespace ntm::dc::state
