// SPDX-License-Identifier: MIT
// dc::state::View: the DC's in-memory authority.  Loaded from PostgreSQL at
// start, kept current by this process's own writes and by change
// notifications from other processes (ntm-dc node add, other DC processes).
// Lookups for directions (and later DNS) are answered from here, never from
// the database.  Lives on the I/O thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "state/party.hpp"
#include "state/path.hpp"
#include "store/records.hpp"

namespace ntm::dc::state {

class View {
 public:
  // Replaces or inserts a party from a database row (keys re-derived).
  Party& upsert(const store::PartyRow& row);
  // Forgets a party and returns the paths it was on (now removed too).
  std::vector<Path> remove(const wire::NodeId& id);

  Party* find(const wire::NodeId& id);
  Party* find_node(const std::string& fqdn);
  Party* find_vip(std::uint32_t vip);
  std::vector<Party*> relays();
  std::size_t node_count() const noexcept { return by_fqdn_.size(); }
  std::size_t party_count() const noexcept { return parties_.size(); }

  Path* find_path(const wire::PathId& id);
  Path& put_path(const Path& p);
  void erase_path(const wire::PathId& id);
  std::vector<Path*> paths_of(const wire::NodeId& id);
  std::size_t path_count() const noexcept { return paths_.size(); }

  template <class F>
  void for_each_party(F&& f) {
    for (auto& [id, p] : parties_) f(*p);
  }
  template <class F>
  void for_each_path(F&& f) {
    for (auto& [id, p] : paths_) f(p);
  }

 private:
  std::unordered_map<wire::NodeId, std::unique_ptr<Party>> parties_;
  std::unordered_map<std::string, Party*> by_fqdn_;
  std::unordered_map<std::uint32_t, Party*> by_vip_;
  std::unordered_map<wire::PathId, Path> paths_;
  // Indexes kept beside the maps: a direction must not scan every party for
  // relays, nor a move every path for its own (at 100,000 nodes a scan per
  // message is most of the DC's time).
  std::unordered_map<wire::NodeId, Party*> relays_;
  std::unordered_map<wire::NodeId, std::vector<wire::PathId>> paths_by_node_;
  void index_path(const Path& p);
  void unindex_path(const Path& p);
};

}  // namespace ntm::dc::state
