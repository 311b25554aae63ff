// SPDX-License-Identifier: MIT
// Hand-written DNS responses for the federation tests, byte by byte from
// RFC 1035 §4, so that the ldns-based parser is checked against an
// encoding it did not produce.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ntm::test::dns {

inline void put16(std::vector<std::uint8_t>& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
inline void put_name(std::vector<std::uint8_t>& b, const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}

struct Rr {
  std::string owner;
  unsigned type = 16;  // TXT
  std::uint32_t ttl = 300;
  std::vector<std::uint8_t> rdata;
};

inline Rr txt(const std::string& owner, const std::vector<std::string>& strings,
              std::uint32_t ttl = 300) {
  Rr r{owner, 16, ttl, {}};
  for (const auto& s : strings) {
    r.rdata.push_back(static_cast<std::uint8_t>(s.size()));
    r.rdata.insert(r.rdata.end(), s.begin(), s.end());
  }
  return r;
}
inline Rr cname(const std::string& owner, const std::string& target, std::uint32_t ttl = 300) {
  Rr r{owner, 5, ttl, {}};
  put_name(r.rdata, target);
  return r;
}
inline Rr soa(const std::string& zone, std::uint32_t ttl, std::uint32_t minimum) {
  Rr r{zone, 6, ttl, {}};
  put_name(r.rdata, "ns." + zone);
  put_name(r.rdata, "hostmaster." + zone);
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u, minimum}) put32(r.rdata, v);
  return r;
}

// A response: id, rcode, the question (qname, TXT, IN), answers, authority.
inline std::vector<std::uint8_t> response(std::uint16_t id, const std::string& qname,
                                          unsigned rcode, const std::vector<Rr>& answers,
                                          const std::vector<Rr>& authority = {},
                                          unsigned qtype = 16) {
  std::vector<std::uint8_t> b;
  put16(b, id);
  put16(b, 0x8180 | rcode);  // QR, RD, RA
  put16(b, 1);
  put16(b, static_cast<unsigned>(answers.size()));
  put16(b, static_cast<unsigned>(authority.size()));
  put16(b, 0);
  put_name(b, qname);
  put16(b, qtype);
  put16(b, 1);
  for (const auto* list : {&answers, &authority})
    for (const auto& r : *list) {
      put_name(b, r.owner);
      put16(b, r.type);
      put16(b, 1);
      put32(b, r.ttl);
      put16(b, static_cast<unsigned>(r.rdata.size()));
      b.insert(b.end(), r.rdata.begin(), r.rdata.end());
    }
  return b;
}

// The id and the name asked in a query.
inline std::uint16_t query_id(const std::vector<std::uint8_t>& q) {
  return q.size() >= 2 ? static_cast<std::uint16_t>(q[0] << 8 | q[1]) : 0;
}
inline std::string query_name(const std::vector<std::uint8_t>& q) {
  std::string out;
  for (std::size_t i = 12; i < q.size() && q[i] != 0; i += q[i] + 1) {
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(&q[i + 1]), std::min<std::size_t>(q[i], q.size() - i - 1));
  }
  return out;
}

}  // namespace ntm::test::dns
