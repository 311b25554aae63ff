// SPDX-License-Identifier: MIT
// The hot path: pdns's `lookup` requests, three per DNS query with its
// caches off.  simdjson validates the line and gives the few fields a
// lookup needs without building a document of allocated nodes, and the
// reply is concatenated from each record's pre-rendered pieces
// (Record::json_head/json_tail) around the asker's spelling of the name.
// Only the plain, well-formed case is taken here; anything else (another
// method, a field of an unexpected type, a name that would need JSON
// escaping, bad JSON) goes to the general path in backend.cpp, which stays
// the reference: tests and the fuzzer check that both give the same bytes.
// (nlohmann's parser, used there, cost a fifth of the DC's CPU per query
// on this path: docs/benchmarks.md, DNS.)
#include <simdjson.h>

#include <limits>

#include "ntm/dns/backend.hpp"

namespace ntm::dns {

// The parser and its padded input buffer, reused from request to request
// (no allocation once they have grown to the longest line).
struct Backend::FastParser {
  simdjson::dom::parser parser;
  std::string buf;
};

// Here, where FastParser is complete.
Backend::Backend(SnapshotSource source, NodeLookupHook hook)
    : source_(std::move(source)), hook_(std::move(hook)) {}
Backend::~Backend() = default;

namespace {

// The fields of a lookup, or `ok == false` for anything unusual.
struct LookupFields {
  bool ok = false;
  std::string_view qname, qtype, remote, real_remote;
  std::int64_t zone_id = -1;
};

// As nlohmann's document would read it: of repeated keys the last counts.
LookupFields read_lookup(const simdjson::dom::element& doc) {
  LookupFields f;
  simdjson::dom::object top;
  if (doc.get_object().get(top)) return f;
  std::string_view method;
  simdjson::dom::element params_el;
  bool has_method = false, has_params = false;
  for (auto [k, v] : top) {
    if (k == "method") {
      if (v.get_string().get(method)) return f;
      has_method = true;
    } else if (k == "parameters") {
      params_el = v;
      has_params = true;
    }
  }
  if (!has_method || method != "lookup" || !has_params) return f;
  simdjson::dom::object params;
  if (params_el.get_object().get(params)) return f;
  bool has_qname = false, has_qtype = false, has_dash = false, has_us = false;
  std::int64_t dash = -1, us = -1;
  for (auto [k, v] : params) {
    std::string_view* target = nullptr;
    if (k == "qname") target = &f.qname, has_qname = true;
    else if (k == "qtype") target = &f.qtype, has_qtype = true;
    else if (k == "remote") target = &f.remote;
    else if (k == "real-remote") target = &f.real_remote;
    if (target) {
      if (v.get_string().get(*target)) return f;
      continue;
    }
    if (k == "zone-id" || k == "zone_id") {
      std::int64_t z = 0;
      // Only a plain integer: a string, null or float takes the general path.
      if (!v.is_int64() || v.get_int64().get(z)) return f;
      (k == "zone-id" ? dash : us) = z;
      (k == "zone-id" ? has_dash : has_us) = true;
    }
  }
  if (!has_qname || !has_qtype) return f;
  // pdns sends "zone-id"; its docs write "zone_id" (handlers::lookup).
  f.zone_id = has_dash ? dash : (has_us ? us : -1);
  f.ok = true;
  return f;
}

// Characters JSON would escape (or replace): such a name takes the general path.
bool plain_json_text(std::string_view s) {
  for (unsigned char c : s)
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return false;
  return true;
}

}  // namespace

std::optional<std::string> Backend::fast_lookup(std::string_view line) {
  if (!fast_) fast_ = std::make_unique<FastParser>();
  std::string& buf = fast_->buf;
  buf.assign(line);
  buf.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element doc;
  if (fast_->parser.parse(buf.data(), line.size(), false).get(doc)) return std::nullopt;
  const LookupFields f = read_lookup(doc);
  if (!f.ok || !plain_json_text(f.qname)) return std::nullopt;
  if (f.zone_id < std::numeric_limits<int>::min() || f.zone_id > std::numeric_limits<int>::max())
    return std::nullopt;
  const int zone_id = static_cast<int>(f.zone_id);

  bump(c_.requests);
  bump(c_.lookups);
  bump(c_.fast_lookups);
  std::shared_ptr<const Snapshot> snap = source_ ? source_() : nullptr;
  if (!snap) {
    bump(c_.no_snapshot);
    return std::string(R"({"result":false})");
  }
  const std::string key = lookup_key(f.qname);
  const auto recs = snap->records_at(key);
  const bool any = ascii_iequals(f.qtype, "ANY");
  std::string out = R"({"result":[)";
  bool first = true;
  for (const auto& r : recs) {
    if (zone_id != -1 && r.domain_id != zone_id) continue;
    if (!any && !ascii_iequals(r.qtype, f.qtype)) continue;
    if (!first) out.push_back(',');
    first = false;
    out += r.json_head;
    out += f.qname;
    if (f.qname.empty() || f.qname.back() != '.') out.push_back('.');
    out += r.json_tail;
  }
  if (first) {
    bump(c_.lookup_misses);
    return std::string(R"({"result":false})");
  }
  out += "]}";
  if (hook_ && !ascii_iequals(f.qtype, "SOA") && snap->is_node(key)) {
    bump(c_.node_lookups);
    NodeLookup l;
    l.qname = recs.front().qname;
    l.remote = f.remote == "0.0.0.0" ? std::string_view() : f.remote;
    l.real_remote =
        f.real_remote == "0.0.0.0/0" ? std::string_view() : f.real_remote;
    l.zone_id = recs.front().domain_id;
    try {
      hook_(l);
    } catch (...) {
      bump(c_.hook_errors);
    }
  }
  return out;
}

}  // namespace ntm::dns
