// SPDX-License-Identifier: MIT
// DNS wire bytes written and read by hand, independently of ldns, so that
// the codec's tests do not check ldns against itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntm::test::dns {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(Bytes& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
inline unsigned get16(const Bytes& b, std::size_t at) {
  return at + 1 < b.size() ? (unsigned{b[at]} << 8) | b[at + 1] : 0;
}

// "www.Example.com" (a trailing dot is fine) in wire form.
inline Bytes wire_name(std::string_view name) {
  Bytes out;
  while (!name.empty() && name != ".") {
    const auto dot = name.find('.');
    const auto label = name.substr(0, dot);
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  out.push_back(0);
  return out;
}

struct QuerySpec {
  std::uint16_t id = 0x1234;
  std::string name = "cn.ntm.test";
  std::uint16_t qtype = 1;
  std::uint16_t qclass = 1;
  bool rd = true;
  bool cd = false;
  unsigned opcode = 0;
  bool edns = false;
  bool dnssec_ok = false;
  std::uint8_t edns_version = 0;
};

inline Bytes make_query(const QuerySpec& s) {
  Bytes b;
  put16(b, s.id);
  b.push_back(static_cast<std::uint8_t>((s.opcode & 0x0f) << 3 | (s.rd ? 1 : 0)));
  b.push_back(s.cd ? 0x10 : 0x00);
  put16(b, 1);
  put16(b, 0);
  put16(b, 0);
  put16(b, s.edns ? 1 : 0);
  const Bytes n = wire_name(s.name);
  b.insert(b.end(), n.begin(), n.end());
  put16(b, s.qtype);
  put16(b, s.qclass);
  if (s.edns) {
    b.push_back(0);  // root owner
    put16(b, 41);
    put16(b, 4096);
    put32(b, (std::uint32_t{s.edns_version} << 16) | (s.dnssec_ok ? 0x8000u : 0u));
    put16(b, 0);
  }
  return b;
}

inline Bytes make_query(std::string_view name, std::uint16_t qtype, std::uint16_t id = 0x1234) {
  QuerySpec s;
  s.name = std::string(name);
  s.qtype = qtype;
  s.id = id;
  return make_query(s);
}

// Skips a (possibly compressed) name; false if it runs off the end.
inline bool skip_name(const Bytes& b, std::size_t& pos) {
  while (pos < b.size()) {
    const auto len = b[pos];
    if (len == 0) {
      ++pos;
      return true;
    }
    if ((len & 0xc0) == 0xc0) {
      pos += 2;
      return pos <= b.size();
    }
    pos += 1 + len;
  }
  return false;
}

struct Rr {
  std::uint16_t type = 0, klass = 0;
  std::uint32_t ttl = 0;
  Bytes rdata;
};

struct Reply {
  std::uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false, cd = false;
  unsigned opcode = 0, rcode = 0;
  unsigned qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  Bytes qname;  // as on the wire (the question's name is never compressed)
  std::uint16_t qtype = 0, qclass = 0;
  std::vector<Rr> answers;
  std::vector<Rr> additional;
  std::optional<Rr> opt;
  // The full rcode: the header's 4 bits and the OPT record's upper 8.
  unsigned full_rcode() const { return rcode | (opt ? (opt->ttl >> 24) << 4 : 0); }
  bool dnssec_ok() const { return opt && (opt->ttl & 0x8000) != 0; }
};

inline std::optional<Reply> read_reply(const Bytes& b) {
  if (b.size() < 12) return std::nullopt;
  Reply r;
  r.id = static_cast<std::uint16_t>(get16(b, 0));
  r.qr = b[2] & 0x80;
  r.opcode = (b[2] >> 3) & 0x0f;
  r.aa = b[2] & 0x04;
  r.tc = b[2] & 0x02;
  r.rd = b[2] & 0x01;
  r.ra = b[3] & 0x80;
  r.cd = b[3] & 0x10;
  r.rcode = b[3] & 0x0f;
  r.qdcount = get16(b, 4);
  r.ancount = get16(b, 6);
  r.nscount = get16(b, 8);
  r.arcount = get16(b, 10);
  std::size_t pos = 12;
  for (unsigned i = 0; i < r.qdcount; ++i) {
    const std::size_t start = pos;
    if (!skip_name(b, pos) || pos + 4 > b.size()) return std::nullopt;
    if (i == 0) {
      r.qname.assign(b.begin() + static_cast<long>(start), b.begin() + static_cast<long>(pos));
      r.qtype = static_cast<std::uint16_t>(get16(b, pos));
      r.qclass = static_cast<std::uint16_t>(get16(b, pos + 2));
    }
    pos += 4;
  }
  const unsigned records = r.ancount + r.nscount + r.arcount;
  for (unsigned i = 0; i < records; ++i) {
    if (!skip_name(b, pos) || pos + 10 > b.size()) return std::nullopt;
    Rr rr;
    rr.type = static_cast<std::uint16_t>(get16(b, pos));
    rr.klass = static_cast<std::uint16_t>(get16(b, pos + 2));
    rr.ttl = (std::uint32_t{get16(b, pos + 4)} << 16) | get16(b, pos + 6);
    const unsigned len = get16(b, pos + 8);
    pos += 10;
    if (pos + len > b.size()) return std::nullopt;
    rr.rdata.assign(b.begin() + static_cast<long>(pos), b.begin() + static_cast<long>(pos + len));
    pos += len;
    if (i < r.ancount) {
      r.answers.push_back(rr);
    } else if (i >= r.ancount + r.nscount) {
      if (rr.type == 41) {
        r.opt = rr;
      } else {
        r.additional.push_back(rr);
      }
    }
  }
  if (pos != b.size()) return std::nullopt;  // our builders write nothing extra
  return r;
}

inline std::uint32_t a_address(const Rr& rr) {
  if (rr.rdata.size() != 4) return 0;
  return (std::uint32_t{rr.rdata[0]} << 24) | (std::uint32_t{rr.rdata[1]} << 16) |
         (std::uint32_t{rr.rdata[2]} << 8) | rr.rdata[3];
}

}  // namespace ntm::test::dns
