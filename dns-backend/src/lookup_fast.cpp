// SPDX-License-Identifier: MIT
// The hot path: pdns's `lookup` requests, three per DNS query with its
// caches off.  A SAX pass picks out the few fields a lookup needs without
// building a JSON document, and the reply is concatenated from each
// record's pre-rendered pieces (Record::json_head/json_tail) around the
// asker's spelling of the name.  Only the plain, well-formed case is taken
// here; anything else (another method, a field of an unexpected type, a
// name that would need JSON escaping, bad JSON) goes to the general path
// in backend.cpp, which stays the reference: tests and the fuzzer check
// that both give the same bytes.
#include <nlohmann/json.hpp>

#include <limits>

#include "ntm/dns/backend.hpp"

namespace ntm::dns {

namespace {

using nlohmann::json;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Collects {"method": "lookup", "parameters": {qname, qtype, zone-id,
// remote, real-remote}}; anything it does not expect sets `unusual`.
class LookupSax {
 public:
  std::string method, qname, qtype, remote, real_remote;
  bool has_method = false, has_params = false, has_qname = false, has_qtype = false;
  bool has_zone_dash = false, has_zone_us = false;
  std::int64_t zone_dash = -1, zone_us = -1;
  bool unusual = false;

  bool null() { return value_of_other_type(); }
  bool boolean(bool) { return value_of_other_type(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value_of_other_type(); }
  bool binary(json::binary_t&) { return value_of_other_type(); }
  bool number_integer(json::number_integer_t v) { return integer(v, v < 0); }
  bool number_unsigned(json::number_unsigned_t v) {
    return v > static_cast<json::number_unsigned_t>(std::numeric_limits<std::int64_t>::max())
               ? value_of_other_type()
               : integer(static_cast<std::int64_t>(v), false);
  }
  bool string(json::string_t& v) {
    const Slot s = take();
    switch (s) {
      case Slot::method: method = std::move(v); has_method = true; return true;
      case Slot::qname: qname = std::move(v); has_qname = true; return true;
      case Slot::qtype: qtype = std::move(v); has_qtype = true; return true;
      case Slot::remote: remote = std::move(v); return true;
      case Slot::real_remote: real_remote = std::move(v); return true;
      case Slot::none: return depth_ > 0 || fail();
      default: return fail();  // zone id as a string, parameters as a string
    }
  }
  bool start_object(std::size_t) {
    const Slot s = take();
    if (depth_ == 1 && s == Slot::params) {
      in_params_ = true;
      has_params = true;
    } else if (s != Slot::none) {
      return fail();
    }
    ++depth_;
    return true;
  }
  bool end_object() {
    --depth_;
    if (depth_ == 1) in_params_ = false;
    return true;
  }
  bool start_array(std::size_t) {
    if (take() != Slot::none || depth_ == 0) return fail();
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(json::string_t& k) {
    slot_ = Slot::none;
    if (depth_ == 1) {
      if (k == "method") slot_ = Slot::method;
      else if (k == "parameters") slot_ = Slot::params;
    } else if (depth_ == 2 && in_params_) {
      if (k == "qname") slot_ = Slot::qname;
      else if (k == "qtype") slot_ = Slot::qtype;
      else if (k == "remote") slot_ = Slot::remote;
      else if (k == "real-remote") slot_ = Slot::real_remote;
      else if (k == "zone-id") slot_ = Slot::zone_dash;
      else if (k == "zone_id") slot_ = Slot::zone_us;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return fail();
  }

 private:
  enum class Slot { none, method, params, qname, qtype, remote, real_remote, zone_dash, zone_us };
  Slot take() {
    const Slot s = slot_;
    slot_ = Slot::none;
    return s;
  }
  bool fail() {
    unusual = true;
    return false;  // stop parsing: the general path takes it from here
  }
  bool value_of_other_type() { return take() == Slot::none && depth_ > 0 ? true : fail(); }
  bool integer(std::int64_t v, bool) {
    const Slot s = take();
    if (s == Slot::zone_dash) {
      zone_dash = v;
      has_zone_dash = true;
      return true;
    }
    if (s == Slot::zone_us) {
      zone_us = v;
      has_zone_us = true;
      return true;
    }
    return s == Slot::none && depth_ > 0 ? true : fail();
  }

  int depth_ = 0;
  bool in_params_ = false;
  Slot slot_ = Slot::none;
};

// Characters JSON would escape (or replace): such a name takes the general path.
bool plain_json_text(std::string_view s) {
  for (unsigned char c : s)
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return false;
  return true;
}

}  // namespace

std::optional<std::string> Backend::fast_lookup(std::string_view line) {
  LookupSax sax;
  const bool parsed = json::sax_parse(line.begin(), line.end(), &sax,
                                      nlohmann::detail::input_format_t::json, /*strict=*/true);
  if (!parsed || sax.unusual || !sax.has_method || sax.method != "lookup" || !sax.has_params ||
      !sax.has_qname || !sax.has_qtype || !plain_json_text(sax.qname))
    return std::nullopt;
  // pdns sends "zone-id"; its docs write "zone_id" (handlers::lookup).
  const std::int64_t zone64 =
      sax.has_zone_dash ? sax.zone_dash : (sax.has_zone_us ? sax.zone_us : -1);
  if (zone64 < std::numeric_limits<int>::min() || zone64 > std::numeric_limits<int>::max())
    return std::nullopt;
  const int zone_id = static_cast<int>(zone64);

  bump(c_.requests);
  bump(c_.lookups);
  bump(c_.fast_lookups);
  std::shared_ptr<const Snapshot> snap = source_ ? source_() : nullptr;
  if (!snap) {
    bump(c_.no_snapshot);
    return std::string(R"({"result":false})");
  }
  const std::string key = lookup_key(sax.qname);
  const auto recs = snap->records_at(key);
  const bool any = iequals(sax.qtype, "ANY");
  std::string out = R"({"result":[)";
  bool first = true;
  for (const auto& r : recs) {
    if (zone_id != -1 && r.domain_id != zone_id) continue;
    if (!any && !iequals(r.qtype, sax.qtype)) continue;
    if (!first) out.push_back(',');
    first = false;
    out += r.json_head;
    out += sax.qname;
    if (sax.qname.empty() || sax.qname.back() != '.') out.push_back('.');
    out += r.json_tail;
  }
  if (first) {
    bump(c_.lookup_misses);
    return std::string(R"({"result":false})");
  }
  out += "]}";
  if (hook_ && !iequals(sax.qtype, "SOA") && snap->is_node(key)) {
    bump(c_.node_lookups);
    NodeLookup l;
    l.qname = recs.front().qname;
    l.remote = sax.remote == "0.0.0.0" ? std::string_view() : std::string_view(sax.remote);
    l.real_remote =
        sax.real_remote == "0.0.0.0/0" ? std::string_view() : std::string_view(sax.real_remote);
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
