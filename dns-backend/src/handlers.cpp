// SPDX-License-Identifier: MIT
// One pure handler per remote-backend method, written against what pdns
// 4.7.3 sends and parses (docs/dns.md; RemoteBackend in
// modules/remotebackend/remotebackend.cc at auth-4.7.3).
#include <charconv>
#include <limits>

#include "ntm/dns/backend.hpp"

namespace ntm::dns {

using nlohmann::json;

namespace {

const std::string* string_param(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

// An int parameter: absent -> `absent`; a JSON integer or a decimal string
// in int range -> the value; anything else -> nullopt (malformed).  pdns
// sends numbers; strings are taken because pdns's own intFromJson does.
std::optional<int> int_param(const json& params, const char* key, int absent) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return absent;
  std::int64_t v = 0;
  if (it->is_number_integer()) {
    v = it->get<std::int64_t>();
  } else if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    return std::nullopt;
  return static_cast<int>(v);
}

// The context fields of a lookup: "0.0.0.0" and "0.0.0.0/0" are what pdns
// sends when the lookup has no packet behind it (apex, SOA walk).
std::string_view client_field(const json& params, const char* key, std::string_view none) {
  const std::string* s = string_param(params, key);
  if (s == nullptr || *s == none) return {};
  return *s;
}

json domain_info(const ZoneInfo& z) {
  // kind is compared with "master"/"slave" by pdns; anything else is
  // Native, the kind for a zone that only this backend serves.
  return json{{"id", z.id}, {"zone", z.name}, {"kind", "native"}, {"serial", z.serial}};
}

}  // namespace

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string lookup_key(std::string_view qname) {
  std::string k(qname);
  for (char& c : k)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (k.empty() || k.back() != '.') k.push_back('.');
  return k;
}

json record_json(const Record& r, std::string_view qname) {
  // ttl and domain_id as numbers (pdns reads ttl with int_value(): a string
  // would become 0); auth as a number because intFromJson ignores booleans.
  json j = json::object();
  j["qtype"] = r.qtype;
  j["qname"] = qname;
  j["content"] = r.content;
  j["ttl"] = r.ttl_s;
  j["domain_id"] = r.domain_id;
  j["auth"] = r.auth ? 1 : 0;
  if (r.scope_mask != 0) j["scopeMask"] = r.scope_mask;
  return j;
}

namespace handlers {

json initialize(const json&, const Snapshot&, CallContext&) {
  return true;
}

// Records of one name, filtered by qtype (pdns 4.7 with consistent-backends
// sends ANY for answers and SOA while it looks for the zone; an SOA lookup
// must get SOA records only, or getSOA() throws) and by zone-id (-1: any).
json lookup(const json& params, const Snapshot& snap, CallContext& ctx) {
  const std::string* qname = string_param(params, "qname");
  const std::string* qtype = string_param(params, "qtype");
  if (qname == nullptr || qtype == nullptr) return nullptr;
  // pdns sends "zone-id"; its docs write "zone_id".
  auto zone_id = int_param(params, params.contains("zone-id") ? "zone-id" : "zone_id", -1);
  if (!zone_id) return nullptr;

  std::string echo = *qname;  // answer in the asker's spelling
  if (echo.empty() || echo.back() != '.') echo.push_back('.');
  const std::string key = lookup_key(*qname);
  const auto recs = snap.records_at(key);
  const bool any = ascii_iequals(*qtype, "ANY");
  json out = json::array();
  for (const auto& r : recs) {
    if (*zone_id != -1 && r.domain_id != *zone_id) continue;
    if (!any && !ascii_iequals(r.qtype, *qtype)) continue;
    out.push_back(record_json(r, echo));
  }
  if (out.empty()) return false;
  if (!ascii_iequals(*qtype, "SOA") && snap.is_node(key)) {
    ctx.node_lookup = true;
    ctx.lookup.qname = recs.front().qname;  // lives in the snapshot
    ctx.lookup.remote = client_field(params, "remote", "0.0.0.0");
    ctx.lookup.real_remote = client_field(params, "real-remote", "0.0.0.0/0");
    ctx.lookup.zone_id = recs.front().domain_id;
  }
  return out;
}

json get_all_domains(const json&, const Snapshot& snap, CallContext&) {
  json out = json::array();
  for (const auto& z : snap.zones()) out.push_back(domain_info(z));
  return out;
}

json get_domain_info(const json& params, const Snapshot& snap, CallContext&) {
  const std::string* name = string_param(params, "name");
  if (name == nullptr) return nullptr;
  const ZoneInfo* z = snap.zone_by_name(lookup_key(*name));
  if (z == nullptr) return false;
  return domain_info(*z);
}

// No metadata: no DNSSEC, no SOA-EDIT, no ALSO-NOTIFY, no LUA records.
// pdns asks for every zone once per zone-metadata-cache-ttl.
json get_all_domain_metadata(const json& params, const Snapshot&, CallContext&) {
  if (string_param(params, "name") == nullptr) return nullptr;
  return json::object();
}

json get_domain_metadata(const json& params, const Snapshot&, CallContext&) {
  if (string_param(params, "name") == nullptr || string_param(params, "kind") == nullptr)
    return nullptr;
  return json::array();
}

// The whole zone for AXFR and `pdnsutil list-zone`.  ENT placeholders are
// left out (pdns skips them in AXFR anyway).
json list(const json& params, const Snapshot& snap, CallContext&) {
  const bool has_name = params.contains("zonename");
  const std::string* zonename = string_param(params, "zonename");
  auto domain_id = int_param(params, "domain_id", -1);
  if ((has_name && zonename == nullptr) || !domain_id) return nullptr;
  if (zonename == nullptr && *domain_id == -1) return nullptr;
  const ZoneInfo* z =
      zonename ? snap.zone_by_name(lookup_key(*zonename)) : snap.zone_by_id(*domain_id);
  if (z == nullptr || (*domain_id != -1 && *domain_id != z->id)) return false;
  json out = json::array();
  for (const auto& r : snap.zone_records(z->id))
    if (r.qtype != "ENT") out.push_back(record_json(r, r.qname));
  return out;
}

}  // namespace handlers

}  // namespace ntm::dns
