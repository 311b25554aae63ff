// SPDX-License-Identifier: MIT
// A record's JSON as the remote backend sends it, rendered once when the
// record is made: byte for byte what record_json(r, qname).dump() gives
// (nlohmann orders an object's keys: auth, content, domain_id, qname,
// qtype, scopeMask, ttl), split around the qname's text.
#include <nlohmann/json.hpp>

#include "ntm/dns/zone_data.hpp"

namespace ntm::dns {

namespace {

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void render_json(Record& r) {
  r.json_head = "{\"auth\":" + std::string(r.auth ? "1" : "0") + ",\"content\":" + json_string(r.content) +
                ",\"domain_id\":" + std::to_string(r.domain_id) + ",\"qname\":\"";
  r.json_tail = "\",\"qtype\":" + json_string(r.qtype);
  if (r.scope_mask != 0) r.json_tail += ",\"scopeMask\":" + std::to_string(r.scope_mask);
  r.json_tail += ",\"ttl\":" + std::to_string(r.ttl_s) + "}";
}

Record make_record(std::string qname, std::string_view qtype, std::string content,
                   std::uint32_t ttl_s, int domain_id, std::uint8_t scope_mask) {
  Record r{std::move(qname), std::string(qtype), std::move(content), ttl_s, domain_id, scope_mask,
           true, {}, {}};
  render_json(r);
  return r;
}

}  // namespace ntm::dns
