// SPDX-License-Identifier: MIT
// build_snapshot(): from the DC's plain zone and node lists to the indexed
// Snapshot the Backend answers from; and the Snapshot's in-place changes.
#include <algorithm>
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
  std::string mname, rname;
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
    z.mname = ns.front();
    z.rname = hostmaster;
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

  // Names between a fixed record's owner and the apex exist (RFC 8020: an
  // NXDOMAIN there would hide everything below from resolvers).  Those
  // above node names come and go with the nodes (Snapshot::add_ents).
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
    return make_record(qname, qtype, std::move(content), ttl, domain_id, scope);
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
  snap.ttls_ = ttls;
  Builder b(ttls);
  for (const auto& z : zones) b.add_zone(z, snap.stats_);
  b.add_zone_records();
  b.add_empty_non_terminals();

  for (auto& z : b.zones()) {
    const std::size_t zi = snap.zones_.size();
    std::vector<Record> list = std::move(z.apex);
    snap.by_name_.emplace(z.info.name, Snapshot::Range{zi, 0, list.size()});
    for (auto& [name, recs] : z.names) {
      snap.by_name_.emplace(name, Snapshot::Range{zi, list.size(), recs.size()});
      for (auto& r : recs) list.push_back(std::move(r));
    }
    snap.stats_.records += list.size();
    snap.zone_index_.emplace(z.info.name, zi);
    snap.zones_.push_back(std::move(z.info));
    snap.soa_.push_back({std::move(z.mname), std::move(z.rname)});
    snap.zone_records_.push_back(std::move(list));
  }
  snap.stats_.zones = snap.zones_.size();
  // In the input's order; of two nodes with one name the first stays.
  for (const auto& n : nodes) {
    auto c = canonical_name(n.fqdn);
    if (c && snap.nodes_.contains(*c)) {
      ++snap.stats_.nodes_rejected;
      continue;
    }
    snap.put_node(n);
  }
  return snap;
}

// ---- lookups ----------------------------------------------------------------

const ZoneInfo* Snapshot::zone_by_name(std::string_view canonical) const {
  auto it = zone_index_.find(canonical);
  return it == zone_index_.end() ? nullptr : &zones_[it->second];
}

const ZoneInfo* Snapshot::zone_by_id(int id) const {
  for (const auto& z : zones_)
    if (z.id == id) return &z;
  return nullptr;
}

std::span<const Record> Snapshot::records_at(std::string_view canonical) const {
  if (auto n = nodes_.find(canonical); n != nodes_.end()) return n->second.records;
  if (auto it = by_name_.find(canonical); it != by_name_.end()) {
    const auto& r = it->second;
    return std::span<const Record>(zone_records_[r.zone_index]).subspan(r.first, r.count);
  }
  if (auto e = ents_.find(canonical); e != ents_.end())
    return std::span<const Record>(&e->second.record, 1);
  return {};
}

std::vector<Record> Snapshot::zone_records(int id) const {
  std::size_t zi = kNone;
  for (std::size_t i = 0; i < zones_.size(); ++i)
    if (zones_[i].id == id) zi = i;
  if (zi == kNone) return {};
  // Every name of the zone but the apex, ordered; a node's records shadow
  // an ENT of the same name, as in records_at().
  std::map<std::string_view, std::span<const Record>> names;
  const auto& fixed = zone_records_[zi];
  for (const auto& [name, r] : by_name_)
    if (r.zone_index == zi && name != zones_[zi].name)
      names.emplace(name, std::span<const Record>(fixed).subspan(r.first, r.count));
  for (const auto& [name, slot] : nodes_)
    if (slot.zone_index == zi) names[name] = slot.records;
  for (const auto& [name, slot] : ents_)
    if (slot.zone_index == zi) names.emplace(name, std::span<const Record>(&slot.record, 1));
  std::vector<Record> out;
  const auto apex = by_name_.find(zones_[zi].name)->second;
  out.insert(out.end(), fixed.begin() + static_cast<std::ptrdiff_t>(apex.first),
             fixed.begin() + static_cast<std::ptrdiff_t>(apex.first + apex.count));
  for (const auto& [name, recs] : names) out.insert(out.end(), recs.begin(), recs.end());
  return out;
}

bool Snapshot::is_node(std::string_view canonical) const {
  return nodes_.contains(canonical);
}

// ---- changes ----------------------------------------------------------------

std::size_t Snapshot::zone_index_of(std::string_view name) const {
  for (auto s = name; !s.empty(); s = parent_of(s)) {
    auto it = zone_index_.find(s);
    if (it != zone_index_.end()) return it->second;
  }
  return kNone;
}

const ZoneInfo* Snapshot::zone_of_name(std::string_view fqdn) const {
  auto c = canonical_name(fqdn);
  if (!c) return nullptr;
  const std::size_t zi = zone_index_of(*c);
  return zi == kNone ? nullptr : &zones_[zi];
}

void Snapshot::add_ents(const std::string& name, std::size_t zi) {
  for (auto p = parent_of(name); !p.empty() && p != zones_[zi].name; p = parent_of(p)) {
    auto [it, fresh] = ents_.try_emplace(std::string(p));
    if (fresh) {
      it->second.zone_index = zi;
      it->second.record = make_record(it->first, "ENT", "", ttls_.zone_s, zones_[zi].id, 0);
    }
    ++it->second.refs;
  }
}

void Snapshot::drop_ents(const std::string& name, std::size_t zi) {
  for (auto p = parent_of(name); !p.empty() && p != zones_[zi].name; p = parent_of(p)) {
    auto it = ents_.find(p);
    if (it != ents_.end() && --it->second.refs == 0) ents_.erase(it);
  }
}

NodeChange Snapshot::put_node(const NodeEntry& n) {
  auto c = canonical_name(n.fqdn);
  if (!c) {
    ++stats_.nodes_rejected;
    return NodeChange::rejected;
  }
  const std::size_t zi = zone_index_of(*c);
  if (zi == kNone) {
    ++stats_.nodes_outside;
    return NodeChange::outside;
  }
  // The apex, the discovery name and glue keep their records: a node
  // cannot take over a name the zone itself answers.  (A fixed ENT may be
  // taken: the node's records then answer there.)
  if (auto it = by_name_.find(*c); it != by_name_.end()) {
    const auto& r = it->second;
    if (r.count == 0 || zone_records_[r.zone_index][r.first].qtype != "ENT") {
      ++stats_.nodes_rejected;
      return NodeChange::rejected;
    }
  }
  const int id = zones_[zi].id;
  std::vector<Record> recs;
  if (n.a_record)
    recs.push_back(
        make_record(*c, "A", ipv4_text(*n.a_record), ttls_.node_s, id, ttls_.node_scope_mask));
  if (!n.marker.empty())
    recs.push_back(
        make_record(*c, "TXT", txt_content(n.marker), ttls_.node_s, id, ttls_.node_scope_mask));
  // A node with nothing to publish still exists: NODATA, not NXDOMAIN.
  if (recs.empty()) recs.push_back(make_record(*c, "ENT", "", ttls_.node_s, id, 0));

  auto [it, fresh] = nodes_.try_emplace(*c);
  NodeSlot& slot = it->second;
  if (!fresh) {
    const bool same = std::equal(slot.records.begin(), slot.records.end(), recs.begin(),
                                 recs.end(), [](const Record& a, const Record& b) {
                                   return a.qtype == b.qtype && a.content == b.content &&
                                          a.ttl_s == b.ttl_s && a.scope_mask == b.scope_mask;
                                 });
    if (same) return NodeChange::unchanged;
    stats_.records -= slot.records.size();
    stats_.records += recs.size();
    slot.records = std::move(recs);
    return NodeChange::changed;
  }
  slot.zone_index = zi;
  stats_.records += recs.size();
  slot.records = std::move(recs);
  ++stats_.nodes;
  add_ents(it->first, zi);
  return NodeChange::added;
}

bool Snapshot::remove_node(std::string_view fqdn) {
  auto c = canonical_name(fqdn);
  if (!c) return false;
  auto it = nodes_.find(*c);
  if (it == nodes_.end()) return false;
  const std::size_t zi = it->second.zone_index;
  stats_.records -= it->second.records.size();
  --stats_.nodes;
  const std::string name = it->first;
  nodes_.erase(it);
  drop_ents(name, zi);
  return true;
}

std::string Snapshot::soa_content(std::size_t zi) const {
  return soa_[zi].mname + ' ' + soa_[zi].rname + ' ' + std::to_string(zones_[zi].serial) + ' ' +
         std::to_string(ttls_.soa_refresh_s) + ' ' + std::to_string(ttls_.soa_retry_s) + ' ' +
         std::to_string(ttls_.soa_expire_s) + ' ' + std::to_string(ttls_.soa_minimum_s);
}

bool Snapshot::set_serial(int zone_id, std::int64_t serial) {
  for (std::size_t zi = 0; zi < zones_.size(); ++zi) {
    if (zones_[zi].id != zone_id) continue;
    zones_[zi].serial = static_cast<std::uint32_t>(static_cast<std::uint64_t>(serial));
    // The SOA is the first record of the zone's fixed list.
    zone_records_[zi].front().content = soa_content(zi);
    render_json(zone_records_[zi].front());
    return true;
  }
  return false;
}

}  // namespace ntm::dns
