// SPDX-License-Identifier: MIT
// The DNS messages ntmd's resolver front reads and writes: a strict query
// parser and the few responses the front builds itself.  ldns does the wire
// work behind this header; no ldns type appears here, so the rest of ntmd
// never includes ldns.  Nothing here throws on input bytes: a datagram that
// is not a query we answer is a verdict, not an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ntm::node::dns {

// RR types and classes the front looks at (RFC 1035, RFC 3596).
inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kClassIn = 1;
inline constexpr std::size_t kHeaderBytes = 12;
// The UDP payload size the front advertises in its own OPT records
// (the DNS flag day 2020 value).
inline constexpr std::uint16_t kEdnsUdpBytes = 1232;
// The most A records one built answer carries (a full answer stays far
// below 512 bytes, so no truncation logic is needed).
inline constexpr std::size_t kMaxAddresses = 8;

enum class Rcode : std::uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
};

struct Edns {
  std::uint16_t udp_bytes = 512;  // the requester's payload size (values < 512 read as 512)
  std::uint8_t version = 0;
  bool dnssec_ok = false;  // the DO bit, echoed in our OPT (RFC 3225)
};

struct Query {
  std::uint16_t id = 0;
  std::uint8_t opcode = 0;
  bool rd = false;  // recursion desired: echoed
  bool cd = false;  // checking disabled: echoed
  // The question.  Empty qname_wire: none could be read (FORMERR/NOTIMP
  // verdicts only); a query with status ok always has one.
  std::vector<std::uint8_t> qname_wire;  // uncompressed, case as received (echoed as is)
  // Canonical text: ASCII lower case, no trailing dot, "." for the root;
  // bytes outside letters, digits, '-' and '_' in presentation escapes
  // (\. \\ \DDD), so such a name never equals a host name.
  std::string name;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  std::optional<Edns> edns;  // the query had one OPT record
};

enum class QueryStatus : std::uint8_t {
  ok,       // QR=0, opcode QUERY, one question, at most one OPT of version 0
  drop,     // no answer at all: shorter than a header, or a response (QR=1)
  formerr,  // answer FORMERR: qdcount != 1, a record that does not parse, two OPT records
  notimp,   // answer NOTIMP: opcode other than QUERY
  badvers,  // answer BADVERS (extended rcode 16, with OPT): EDNS version > 0
};

std::string_view to_string(QueryStatus s) noexcept;

struct ParsedQuery {
  QueryStatus status = QueryStatus::drop;
  Query query;  // id, flags and whatever could be read (complete when status is ok)
};

// Reads one datagram received on the front.  Never throws, whatever the
// bytes (allocation failure aside).
ParsedQuery parse_query(std::span<const std::uint8_t> wire) noexcept;

// Responses (QR=1, RA=1, AA=0; id, opcode, RD, CD and the question copied
// from the query; an OPT record when the query had one).  Each returns the
// wire bytes, or an empty vector if ldns failed (out of memory): the caller
// then sends nothing.
//
// An answer to an A query: one A record per address (host byte order, at
// most kMaxAddresses are used), owner = the question's name as received.
std::vector<std::uint8_t> build_a_answer(const Query& q, std::span<const std::uint32_t> ipv4,
                                         std::uint32_t ttl_s);
// A response without records: NOERROR (NODATA), NXDOMAIN, SERVFAIL, REFUSED ...
std::vector<std::uint8_t> build_empty(const Query& q, Rcode rcode);
// The answer a FORMERR, NOTIMP or BADVERS verdict calls for; empty for ok
// and drop.  The question is echoed when it could be read.
std::vector<std::uint8_t> build_reject(const ParsedQuery& p);

// A response's header and question, as the front checks an upstream reply
// before relaying it.  Not a full parse: the records after the question are
// not looked at (they go to the client untouched).
struct ReplyHead {
  std::uint16_t id = 0;
  bool qr = false;
  std::uint16_t qdcount = 0;
  std::vector<std::uint8_t> qname_wire;  // empty when qdcount == 0
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
};
std::optional<ReplyHead> peek_reply(std::span<const std::uint8_t> wire) noexcept;

// Two uncompressed wire names are the same name (ASCII case-insensitive).
bool same_name(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

// The 16-bit id of a datagram of at least kHeaderBytes, read and rewritten
// in place (the passthrough path touches nothing else).
std::uint16_t read_id(std::span<const std::uint8_t> wire) noexcept;
void write_id(std::span<std::uint8_t> wire, std::uint16_t id) noexcept;

}  // namespace ntm::node::dns
