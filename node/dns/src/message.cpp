// SPDX-License-Identifier: MIT
// The query parser and response builders on ldns.  The header is read by
// hand (it decides between "drop" and "answer" before anything is
// allocated); every record is read with ldns_wire2rr, one at a time, rather
// than with ldns_wire2pkt: that lets us count OPT records (RFC 6891 wants
// FORMERR for two) and keeps us off ldns_wire2pkt's TSIG branch, which
// shortens its own loop and leaks the first of two TSIG records.
#include "ntm/node/dns/message.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace ntm::node::dns {

namespace {

// BADVERS (RFC 6891): 16, i.e. extended rcode 1 in the OPT record and 0 in
// the header.
constexpr unsigned kRcodeBadvers = 16;
constexpr std::uint16_t kTypeOpt = 41;

struct RrFree {
  void operator()(ldns_rr* rr) const noexcept { ldns_rr_free(rr); }
};
struct RdfFree {
  void operator()(ldns_rdf* rdf) const noexcept { ldns_rdf_deep_free(rdf); }
};
struct PktFree {
  void operator()(ldns_pkt* pkt) const noexcept { ldns_pkt_free(pkt); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

std::uint16_t be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Presentation text of an uncompressed wire name (RFC 1035 5.1 escapes),
// lower case, no trailing dot.
std::string canonical_text(std::span<const std::uint8_t> wire) {
  if (wire.size() <= 1) return ".";
  std::string out;
  out.reserve(wire.size());
  std::size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    const std::size_t len = wire[i++];
    if (!out.empty()) out.push_back('.');
    for (std::size_t k = 0; k < len && i < wire.size(); ++k, ++i) {
      const auto b = wire[i];
      const char c = static_cast<char>(b);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_') {
        out.push_back(lower(c));
      } else if (b > 0x20 && b < 0x7f) {
        out.push_back('\\');
        out.push_back(c);
      } else {
        out.push_back('\\');
        out.push_back(static_cast<char>('0' + b / 100));
        out.push_back(static_cast<char>('0' + (b / 10) % 10));
        out.push_back(static_cast<char>('0' + b % 10));
      }
    }
  }
  return out;
}

std::vector<std::uint8_t> rdf_bytes(const ldns_rdf* rdf) {
  const auto* d = ldns_rdf_data(rdf);
  return {d, d + ldns_rdf_size(rdf)};
}

// One record at `pos`; null when it does not parse (pos is then undefined).
RrPtr read_rr(std::span<const std::uint8_t> wire, std::size_t& pos, ldns_pkt_section section) {
  ldns_rr* rr = nullptr;
  if (ldns_wire2rr(&rr, wire.data(), wire.size(), &pos, section) != LDNS_STATUS_OK) {
    return nullptr;
  }
  return RrPtr(rr);
}

// The skeleton every response shares.  `rcode` may be extended (> 15).
PktPtr response_skeleton(const Query& q, unsigned rcode) {
  PktPtr pkt(ldns_pkt_new());
  if (!pkt) return nullptr;
  ldns_pkt_set_id(pkt.get(), q.id);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_opcode(pkt.get(), LDNS_PACKET_QUERY);  // the real opcode is patched in later
  ldns_pkt_set_rd(pkt.get(), q.rd);
  ldns_pkt_set_cd(pkt.get(), q.cd);
  ldns_pkt_set_ra(pkt.get(), true);  // we recurse for the client (upstream or the DC)
  ldns_pkt_set_rcode(pkt.get(), static_cast<std::uint8_t>(rcode & 0x0f));
  if (!q.qname_wire.empty()) {
    RrPtr rr(ldns_rr_new());
    if (!rr) return nullptr;
    ldns_rdf* owner =
        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, q.qname_wire.size(), q.qname_wire.data());
    if (!owner) return nullptr;
    ldns_rr_set_owner(rr.get(), owner);
    ldns_rr_set_type(rr.get(), static_cast<ldns_rr_type>(q.qtype));
    ldns_rr_set_class(rr.get(), static_cast<ldns_rr_class>(q.qclass));
    ldns_rr_set_question(rr.get(), true);
    if (!ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, rr.get())) return nullptr;
    rr.release();  // owned by the packet now
  }
  if (q.edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), kEdnsUdpBytes);
    ldns_pkt_set_edns_version(pkt.get(), 0);
    ldns_pkt_set_edns_do(pkt.get(), q.edns->dnssec_ok);
    ldns_pkt_set_edns_extended_rcode(pkt.get(), static_cast<std::uint8_t>(rcode >> 4));
  }
  return pkt;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* pkt, std::uint8_t opcode) {
  std::uint8_t* buf = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&buf, pkt, &size) != LDNS_STATUS_OK || buf == nullptr) {
    std::free(buf);
    return {};
  }
  std::vector<std::uint8_t> out(buf, buf + size);
  std::free(buf);
  // ldns's opcode enum has no room for every 4-bit value: set it here.
  if (out.size() >= kHeaderBytes) {
    out[2] = static_cast<std::uint8_t>((out[2] & 0x87) | ((opcode & 0x0f) << 3));
  }
  return out;
}

}  // namespace

std::string_view to_string(QueryStatus s) noexcept {
  switch (s) {
    case QueryStatus::ok:
      return "ok";
    case QueryStatus::drop:
      return "drop";
    case QueryStatus::formerr:
      return "formerr";
    case QueryStatus::notimp:
      return "notimp";
    case QueryStatus::badvers:
      return "badvers";
  }
  return "unknown";
}

ParsedQuery parse_query(std::span<const std::uint8_t> wire) noexcept {
  ParsedQuery p;
  try {
    Query& q = p.query;
    if (wire.size() < kHeaderBytes) return p;  // not even an id to answer to
    const std::uint8_t* h = wire.data();
    q.id = be16(h);
    if (h[2] & 0x80) return p;  // a response: never answered (no reflection loops)
    q.opcode = static_cast<std::uint8_t>((h[2] >> 3) & 0x0f);
    q.rd = (h[2] & 0x01) != 0;
    q.cd = (h[3] & 0x10) != 0;
    const std::uint16_t qd = be16(h + 4);
    const unsigned rest = unsigned{be16(h + 6)} + be16(h + 8);
    const std::uint16_t ar = be16(h + 10);

    std::size_t pos = kHeaderBytes;
    bool question = false;
    if (qd == 1) {
      if (RrPtr rr = read_rr(wire, pos, LDNS_SECTION_QUESTION)) {
        q.qname_wire = rdf_bytes(ldns_rr_owner(rr.get()));
        q.name = canonical_text(q.qname_wire);
        q.qtype = static_cast<std::uint16_t>(ldns_rr_get_type(rr.get()));
        q.qclass = static_cast<std::uint16_t>(ldns_rr_get_class(rr.get()));
        question = true;
      }
    }
    if (q.opcode != 0) {
      p.status = QueryStatus::notimp;
      return p;
    }
    p.status = QueryStatus::formerr;
    if (!question) return p;
    // Answer and authority records are legal in a query and ignored, but
    // they must parse: the OPT record can only be found behind them.
    for (unsigned i = 0; i < rest; ++i) {
      if (!read_rr(wire, pos, LDNS_SECTION_ANSWER)) return p;
    }
    unsigned opts = 0;
    for (unsigned i = 0; i < ar; ++i) {
      RrPtr rr = read_rr(wire, pos, LDNS_SECTION_ADDITIONAL);
      if (!rr) return p;
      if (static_cast<std::uint16_t>(ldns_rr_get_type(rr.get())) != kTypeOpt) continue;
      if (++opts > 1) {
        q.edns.reset();  // RFC 6891 6.1.1: FORMERR, and no OPT of ours
        return p;
      }
      // OPT: class = payload size; TTL = extended rcode, version, DO and Z.
      const std::uint32_t ttl = ldns_rr_ttl(rr.get());
      Edns e;
      e.udp_bytes =
          std::max<std::uint16_t>(512, static_cast<std::uint16_t>(ldns_rr_get_class(rr.get())));
      e.version = static_cast<std::uint8_t>((ttl >> 16) & 0xff);
      e.dnssec_ok = (ttl & 0x8000) != 0;
      q.edns = e;
    }
    // Bytes after the last counted record are ignored, as most servers do.
    p.status = q.edns && q.edns->version > 0 ? QueryStatus::badvers : QueryStatus::ok;
    return p;
  } catch (...) {  // std::bad_alloc: nothing sensible to answer
    return ParsedQuery{};
  }
}

std::vector<std::uint8_t> build_a_answer(const Query& q, std::span<const std::uint32_t> ipv4,
                                         std::uint32_t ttl_s) {
  PktPtr pkt = response_skeleton(q, static_cast<unsigned>(Rcode::noerror));
  if (!pkt || q.qname_wire.empty()) return {};
  const std::size_t n = std::min(ipv4.size(), kMaxAddresses);
  for (std::size_t i = 0; i < n; ++i) {
    RrPtr rr(ldns_rr_new_frm_type(LDNS_RR_TYPE_A));
    if (!rr) return {};
    ldns_rdf* owner =
        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, q.qname_wire.size(), q.qname_wire.data());
    if (!owner) return {};
    ldns_rr_set_owner(rr.get(), owner);
    ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr.get(), ttl_s);
    const std::uint8_t addr[4] = {
        static_cast<std::uint8_t>(ipv4[i] >> 24), static_cast<std::uint8_t>(ipv4[i] >> 16),
        static_cast<std::uint8_t>(ipv4[i] >> 8), static_cast<std::uint8_t>(ipv4[i])};
    RdfPtr rdf(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof addr, addr));
    if (!rdf) return {};
    ldns_rr_set_rdf(rr.get(), rdf.release(), 0);  // the slot was empty: nothing returned
    if (!ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER, rr.get())) return {};
    rr.release();
  }
  return to_wire(pkt.get(), q.opcode);
}

std::vector<std::uint8_t> build_empty(const Query& q, Rcode rcode) {
  PktPtr pkt = response_skeleton(q, static_cast<unsigned>(rcode));
  if (!pkt) return {};
  return to_wire(pkt.get(), q.opcode);
}

std::vector<std::uint8_t> build_reject(const ParsedQuery& p) {
  unsigned rcode = 0;
  switch (p.status) {
    case QueryStatus::formerr:
      rcode = static_cast<unsigned>(Rcode::formerr);
      break;
    case QueryStatus::notimp:
      rcode = static_cast<unsigned>(Rcode::notimp);
      break;
    case QueryStatus::badvers:
      rcode = kRcodeBadvers;
      break;
    case QueryStatus::ok:
    case QueryStatus::drop:
      return {};
  }
  PktPtr pkt = response_skeleton(p.query, rcode);
  if (!pkt) return {};
  return to_wire(pkt.get(), p.query.opcode);
}

std::optional<ReplyHead> peek_reply(std::span<const std::uint8_t> wire) noexcept {
  try {
    if (wire.size() < kHeaderBytes) return std::nullopt;
    ReplyHead r;
    r.id = be16(wire.data());
    r.qr = (wire[2] & 0x80) != 0;
    r.qdcount = be16(wire.data() + 4);
    if (r.qdcount == 0) return r;
    std::size_t pos = kHeaderBytes;
    ldns_rdf* name = nullptr;
    if (ldns_wire2dname(&name, wire.data(), wire.size(), &pos) != LDNS_STATUS_OK) {
      return std::nullopt;
    }
    RdfPtr owner(name);
    if (pos + 4 > wire.size()) return std::nullopt;
    r.qname_wire = rdf_bytes(owner.get());
    r.qtype = be16(wire.data() + pos);
    r.qclass = be16(wire.data() + pos + 2);
    return r;
  } catch (...) {
    return std::nullopt;
  }
}

bool same_name(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  // Label length bytes are < 64, below 'A', so folding them is harmless.
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](std::uint8_t x, std::uint8_t y) {
    return lower(static_cast<char>(x)) == lower(static_cast<char>(y));
  });
}

std::uint16_t read_id(std::span<const std::uint8_t> wire) noexcept {
  return wire.size() >= 2 ? be16(wire.data()) : 0;
}

void write_id(std::span<std::uint8_t> wire, std::uint16_t id) noexcept {
  if (wire.size() < 2) return;
  wire[0] = static_cast<std::uint8_t>(id >> 8);
  wire[1] = static_cast<std::uint8_t>(id);
}

}  // namespace ntm::node::dns
