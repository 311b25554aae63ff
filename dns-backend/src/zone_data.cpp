// SPDX-License-Identifier: MIT
// build_snapshot(): from the DC's plain zone and node lists to the indexed,
// immutable Snapshot the Backend answers from.
#include <map>
#include <unordered_set>

#include "ntm/dns/zone_data.hpp"

namespace ntm::dns {

namespace {

// Records of one zone while it is being built: the apex apart (it goes
// first in `list`), the rest ordered by name.
struct ZoneBuild {
  ZoneInfo info;
  std::vector<Record> apex;
  std::map<std::string, std::vector<Record>> names;
  std::unordered_set<std::string> nodes;
};

// "a.b.zone." -> "b.zone." ; "zone." -> "" (no parent in this walk).
std::string_view parent_of(std::string_view name) {
  const auto dot = name.find('.');
  if (dot == std::string_view::npos || dot + 1 >= name.size()) return {};
  return name.substr(dot + 1);
}

class Builder {
 public:
  explicit Builder(const Ttls& ttls) : ttls_(ttls) {}

  void add_zone(const ZoneInput& in, SnapshotStats& stats) {
    auto name = canonical_name(in.name);
    std::vector<std::string> ns;
    for (const auto& n : in.nameservers)
      if (auto c = canonical_name(n)) ns.push_back(std::move(*c));
    if (!name || in.id < 0 || ns.empty() || zone_index_.contains(*name) || ids_.contains(in.id)) {
      ++stats.zones_rejected;
      return;
    }
    ZoneBuild z;
    z.info.id = in.id;
    z.info.name = *name;
    // SOA serials are 32-bit; the DC's counter is wider and wraps here,
    // which serial arithmetic (RFC 1982) tolerates.
    z.info.serial = static_cast<std::uint32_t>(static_cast<std::uint64_t>(in.serial));
    auto rname = canonical_name(in.hostmaster);
    const std::string hostmaster = rname ? *rname : "hostmaster." + *name;
    z.apex.push_back(record(*name, "SOA", soa_content(ns.front(), hostmaster, z.info.serial),
                            ttls_.zone_s, in.id, 0));
    for (const auto& n : ns) z.apex.push_back(record(*name, "NS", n, ttls_.zone_s, in.id, 0));
    ids_.insert(in.id);
    zone_index_.emplace(*name, zones_.size());
    zones_.push_back(std::move(z));
    inputs_.push_back(&in);
  }

  // Glue and discovery records go in once every zone is known, so that a
  // name inside a nested zone lands in the nested one.
  void add_zone_records() {
    for (std::size_t i = 0; i < zones_.size(); ++i) {
      const ZoneInput& in = *inputs_[i];
      ZoneBuild& z = zones_[i];
      for (const auto& [host, addr] : in.ns_addresses) {
        auto c = canonical_name(host);
        if (!c || *c == z.info.name || zone_of(*c) != i) continue;
        z.names[*c].push_back(record(*c, "A", ipv4_text(addr), ttls_.zone_s, z.info.id, 0));
      }
      if (in.discovery_txt.empty()) continue;
      const std::string owner = std::string(kDiscoveryLabel) + "." + z.info.name;
      if (zone_of(owner) != i) continue;
      for (const auto& text : in.discovery_txt)
        z.names[owner].push_back(
            record(owner, "TXT", txt_content(text), ttls_.discovery_s, z.info.id, 0));
    }
  }

  void add_node(const NodeEntry& n, SnapshotStats& stats) {
    auto c = canonical_name(n.fqdn);
    if (!c) {
      ++stats.nodes_rejected;
      return;
    }
    const std::size_t zi = zone_of(*c);
    if (zi == kNone) {
      ++stats.nodes_outside;
      return;
    }
    ZoneBuild& z = zones_[zi];
    // The apex, the discovery name, glue and an earlier node keep their
    // records: a node cannot take over a name the zone already answers.
    if (*c == z.info.name || z.names.contains(*c)) {
      ++stats.nodes_rejected;
      return;
    }
    auto& recs = z.names[*c];
    if (n.a_record)
      recs.push_back(
          record(*c, "A", ipv4_text(*n.a_record), ttls_.node_s, z.info.id, ttls_.node_scope_mask));
    if (!n.marker.empty())
      recs.push_back(
          record(*c, "TXT", txt_content(n.marker), ttls_.node_s, z.info.id, ttls_.node_scope_mask));
    // A node with nothing to publish still exists: NODATA, not NXDOMAIN.
    if (recs.empty()) recs.push_back(record(*c, "ENT", "", ttls_.node_s, z.info.id, 0));
    z.nodes.insert(*c);
    ++stats.nodes;
  }

  // Names between a record's owner and the apex exist (RFC 8020: an
  // NXDOMAIN there would hide everything below from resolvers).
  void add_empty_non_terminals() {
    for (auto& z : zones_) {
      std::vector<std::string> missing;
      for (const auto& [name, recs] : z.names) {
        for (auto p = parent_of(name); !p.empty() && p != z.info.name; p = parent_of(p)) {
          if (z.names.contains(std::string(p))) break;
          missing.emplace_back(p);
        }
      }
      for (auto& m : missing)
        if (!z.names.contains(m))
          z.names[m].push_back(record(m, "ENT", "", ttls_.zone_s, z.info.id, 0));
    }
  }

  std::vector<ZoneBuild>& zones() { return zones_; }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // Longest served zone that `name` equals or lies below.
  std::size_t zone_of(std::string_view name) const {
    for (auto s = name; !s.empty(); s = parent_of(s)) {
      auto it = zone_index_.find(std::string(s));
      if (it != zone_index_.end()) return it->second;
    }
    return kNone;
  }

  static Record record(const std::string& qname, std::string_view qtype, std::string content,
                       std::uint32_t ttl, int domain_id, std::uint8_t scope) {
    return Record{qname, std::string(qtype), std::move(content), ttl, domain_id, scope, true};
  }

  std::string soa_content(const std::string& mname, const std::string& rname,
                          std::uint32_t serial) const {
    return mname + ' ' + rname + ' ' + std::to_string(serial) + ' ' +
           std::to_string(ttls_.soa_refresh_s) + ' ' + std::to_string(ttls_.soa_retry_s) + ' ' +
           std::to_string(ttls_.soa_expire_s) + ' ' + std::to_string(ttls_.soa_minimum_s);
  }

  const Ttls& ttls_;
  std::vector<ZoneBuild> zones_;
  std::vector<const ZoneInput*> inputs_;  // parallel to zones_
  std::unordered_map<std::string, std::size_t> zone_index_;
  std::unordered_set<int> ids_;
};

}  // namespace

Snapshot build_snapshot(const std::vector<ZoneInput>& zones, const std::vector<NodeEntry>& nodes,
                        const Ttls& ttls) {
  Snapshot snap;
  Builder b(ttls);
  for (const auto& z : zones) b.add_zone(z, snap.stats_);
  b.add_zone_records();
  for (const auto& n : nodes) b.add_node(n, snap.stats_);
  b.add_empty_non_terminals();

  for (auto& z : b.zones()) {
    const std::size_t zi = snap.zones_.size();
    std::vector<Record> list = std::move(z.apex);
    snap.by_name_.emplace(z.info.name, Snapshot::Range{zi, 0, list.size(), false});
    for (auto& [name, recs] : z.names) {
      snap.by_name_.emplace(name,
                            Snapshot::Range{zi, list.size(), recs.size(), z.nodes.contains(name)});
      for (auto& r : recs) list.push_back(std::move(r));
    }
    snap.stats_.records += list.size();
    snap.zones_.push_back(std::move(z.info));
    snap.zone_records_.push_back(std::move(list));
  }
  snap.stats_.zones = snap.zones_.size();
  return snap;
}

const ZoneInfo* Snapshot::zone_by_name(std::string_view canonical) const {
  for (const auto& z : zones_)
    if (z.name == canonical) return &z;
  return nullptr;
}

const ZoneInfo* Snapshot::zone_by_id(int id) const {
  for (const auto& z : zones_)
    if (z.id == id) return &z;
  return nullptr;
}

std::span<const Record> Snapshot::records_at(std::string_view canonical) const {
  auto it = by_name_.find(canonical);
  if (it == by_name_.end()) return {};
  const auto& r = it->second;
  return std::span<const Record>(zone_records_[r.zone_index]).subspan(r.first, r.count);
}

std::span<const Record> Snapshot::zone_records(int id) const {
  for (std::size_t i = 0; i < zones_.size(); ++i)
    if (zones_[i].id == id) return zone_records_[i];
  return {};
}

bool Snapshot::is_node(std::string_view canonical) const {
  auto it = by_name_.find(canonical);
  return it != by_name_.end() && it->second.node;
}

}  // namespace ntm::dns
