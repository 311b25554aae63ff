// SPDX-License-Identifier: MIT
// ldns does the DNS byte work: the query is an ldns_pkt turned into wire
// format, the answer is read with ldns_wire2pkt and walked record by
// record.  What is ours is the matching (id, question) and the reading of
// the answer: CNAMEs followed inside the answer, TTLs for the cache.
#include "federation/txt_message.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <memory>

namespace ntm::dc::federation {

namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const noexcept { ldns_rdf_deep_free(r); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;

constexpr std::uint32_t kDefaultNegativeTtl = 60;  // no SOA in a negative answer
constexpr std::size_t kMaxCnames = 8;

// The name as an absolute, lower-case ldns dname, or null.
RdfPtr dname(const std::string& name) {
  if (name.empty() || name.size() > 253) return nullptr;
  RdfPtr d(ldns_dname_new_frm_str((name + ".").c_str()));
  if (d) ldns_dname2canonical(d.get());
  return d;
}

bool same_name(const ldns_rdf* a, const ldns_rdf* b) {
  return a && b && ldns_dname_compare(a, b) == 0;  // case-insensitive
}

// One TXT record's character-strings joined (RFC 7208 §3.3 reads split
// strings the same way).
std::string txt_text(const ldns_rr* rr) {
  std::string out;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* f = ldns_rr_rdf(rr, i);
    if (!f || ldns_rdf_get_type(f) != LDNS_RDF_TYPE_STR || ldns_rdf_size(f) < 1) continue;
    const std::uint8_t* d = ldns_rdf_data(f);
    const std::size_t n = std::min<std::size_t>(d[0], ldns_rdf_size(f) - 1);
    out.append(reinterpret_cast<const char*>(d + 1), n);
  }
  return out;
}

// Negative caching (RFC 2308 §5): the SOA's TTL, at most its minimum field.
std::uint32_t negative_ttl(const ldns_pkt* p) {
  const ldns_rr_list* auth = ldns_pkt_authority(p);
  for (std::size_t i = 0; auth && i < ldns_rr_list_rr_count(auth); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(auth, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7) continue;
    const ldns_rdf* min = ldns_rr_rdf(rr, 6);
    std::uint32_t m = ldns_rr_ttl(rr);
    if (min && ldns_rdf_size(min) == 4) m = std::min(m, ldns_rdf2native_int32(min));
    return m;
  }
  return kDefaultNegativeTtl;
}

}  // namespace

const char* to_string(TxtStatus s) noexcept {
  switch (s) {
    case TxtStatus::ok: return "ok";
    case TxtStatus::nxdomain: return "nxdomain";
    case TxtStatus::nodata: return "nodata";
    case TxtStatus::failed: return "failed";
    case TxtStatus::malformed: return "malformed";
    case TxtStatus::mismatch: return "mismatch";
  }
  return "?";
}

std::vector<std::uint8_t> build_txt_query(const std::string& name, std::uint16_t id) {
  RdfPtr owner = dname(name);
  if (!owner) return {};
  // ldns_pkt_query_new takes ownership of the name.
  PktPtr pkt(ldns_pkt_query_new(owner.release(), LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, LDNS_RD));
  if (!pkt) return {};
  ldns_pkt_set_id(pkt.get(), id);
  // EDNS0 with the size that avoids fragmentation (DNS flag day 2020).
  ldns_pkt_set_edns_udp_size(pkt.get(), 1232);
  std::uint8_t* buf = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&buf, pkt.get(), &size) != LDNS_STATUS_OK || !buf) return {};
  std::vector<std::uint8_t> out(buf, buf + size);
  LDNS_FREE(buf);
  return out;
}

TxtAnswer parse_txt_response(std::span<const std::uint8_t> msg, const std::string& name,
                             std::uint16_t id, std::uint32_t max_ttl_s) {
  TxtAnswer a;
  if (msg.size() < 12 || msg.size() > 65535) return a;  // malformed
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, msg.data(), msg.size()) != LDNS_STATUS_OK || !raw) return a;
  PktPtr pkt(raw);
  RdfPtr want = dname(name);
  a.status = TxtStatus::mismatch;
  // A response to our query: QR set, our id, exactly our question.
  if (!want || !ldns_pkt_qr(pkt.get()) || ldns_pkt_id(pkt.get()) != id ||
      ldns_pkt_get_opcode(pkt.get()) != LDNS_PACKET_QUERY)
    return a;
  const ldns_rr_list* q = ldns_pkt_question(pkt.get());
  if (!q || ldns_rr_list_rr_count(q) != 1) return a;
  const ldns_rr* qr = ldns_rr_list_rr(q, 0);
  if (ldns_rr_get_type(qr) != LDNS_RR_TYPE_TXT || ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN ||
      !same_name(ldns_rr_owner(qr), want.get()))
    return a;
  a.status = TxtStatus::failed;
  // A truncated answer may lack records; we do not retry over TCP (a
  // marker fits in UDP many times over).
  if (ldns_pkt_tc(pkt.get())) return a;
  switch (ldns_pkt_get_rcode(pkt.get())) {
    case LDNS_RCODE_NOERROR: break;
    case LDNS_RCODE_NXDOMAIN:
      a.status = TxtStatus::nxdomain;
      a.ttl_s = std::min(negative_ttl(pkt.get()), max_ttl_s);
      return a;
    default: return a;  // SERVFAIL, REFUSED, ...: not cached
  }
  // Follow CNAMEs inside the answer section from the asked name; take the
  // TXT records of the last name in the chain.
  const ldns_rr_list* ans = ldns_pkt_answer(pkt.get());
  const std::size_t n = ans ? ldns_rr_list_rr_count(ans) : 0;
  const ldns_rdf* cur = want.get();
  std::uint32_t ttl = max_ttl_s;
  for (std::size_t hops = 0; hops <= kMaxCnames; ++hops) {
    const ldns_rdf* next = nullptr;
    for (std::size_t i = 0; i < n; ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(ans, i);
      if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || !same_name(ldns_rr_owner(rr), cur))
        continue;
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1) {
        next = ldns_rr_rdf(rr, 0);
        ttl = std::min(ttl, ldns_rr_ttl(rr));
      }
    }
    if (!next) break;
    cur = next;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(ans, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
        !same_name(ldns_rr_owner(rr), cur))
      continue;
    a.texts.push_back(txt_text(rr));
    ttl = std::min(ttl, ldns_rr_ttl(rr));
  }
  if (a.texts.empty()) {
    a.status = TxtStatus::nodata;
    a.ttl_s = std::min(negative_ttl(pkt.get()), max_ttl_s);
    return a;
  }
  a.status = TxtStatus::ok;
  a.ttl_s = ttl;
  return a;
}

}  // namespace ntm::dc::federation
