// SPDX-License-Identifier: MIT
// ntmd's resolver front, the part that faces any local process: the query
// parser (parse_query) and, for what it accepts or rejects, the responses
// built from it.  Never crashes, never leaks; besides:
//   - drop only for datagrams shorter than a header or with QR=1;
//   - an accepted query has a question and a canonical name (no ASCII
//     upper case, no trailing dot except the root "."), and every response
//     built from it reads back as a response to the same id and question,
//     which the parser then drops (a response is never answered);
//   - a FORMERR/NOTIMP/BADVERS verdict yields a response with that rcode;
//   - parsing is deterministic.
// Seeds: tests/fuzz/corpus/dns_query, queries captured from dig 9.18.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_fixture.hpp"
#include "ntm/node/dns/message.hpp"

namespace {

using namespace ntm::node::dns;

void check_response(std::span<const std::uint8_t> wire, const Query& q, unsigned rcode) {
  NTM_FUZZ_CHECK(wire.size() >= kHeaderBytes);
  const auto head = peek_reply(wire);
  NTM_FUZZ_CHECK(head.has_value());
  NTM_FUZZ_CHECK(head->qr);
  NTM_FUZZ_CHECK(head->id == q.id);
  NTM_FUZZ_CHECK((wire[3] & 0x0f) == (rcode & 0x0f));
  NTM_FUZZ_CHECK(((wire[2] >> 3) & 0x0f) == q.opcode);
  if (q.qname_wire.empty()) {
    NTM_FUZZ_CHECK(head->qdcount == 0);
  } else {
    NTM_FUZZ_CHECK(head->qdcount == 1);
    NTM_FUZZ_CHECK(head->qname_wire == q.qname_wire);
    NTM_FUZZ_CHECK(head->qtype == q.qtype && head->qclass == q.qclass);
  }
  NTM_FUZZ_CHECK(parse_query(wire).status == QueryStatus::drop);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const ParsedQuery p = parse_query(in);
  (void)peek_reply(in);

  const ParsedQuery again = parse_query(in);
  NTM_FUZZ_CHECK(again.status == p.status && again.query.name == p.query.name &&
                 again.query.qname_wire == p.query.qname_wire);

  if (p.status == QueryStatus::drop) {
    NTM_FUZZ_CHECK(size < kHeaderBytes || (data[2] & 0x80) != 0);
    NTM_FUZZ_CHECK(build_reject(p).empty());
    return 0;
  }
  NTM_FUZZ_CHECK(p.query.id == read_id(in));
  if (p.status != QueryStatus::ok) {
    const unsigned rcode = p.status == QueryStatus::formerr  ? 1
                           : p.status == QueryStatus::notimp ? 4
                                                             : 0;  // BADVERS: 16, 0 in the header
    check_response(build_reject(p), p.query, rcode);
    return 0;
  }

  const Query& q = p.query;
  NTM_FUZZ_CHECK(!q.qname_wire.empty() && !q.name.empty());
  for (char c : q.name) NTM_FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  NTM_FUZZ_CHECK(q.name == "." || q.name.back() != '.' ||
                 (q.name.size() >= 2 && q.name[q.name.size() - 2] == '\\'));
  NTM_FUZZ_CHECK(!q.edns || q.edns->version == 0);

  const std::uint32_t addrs[2] = {0x64400009, 0x0a000001};
  check_response(build_a_answer(q, addrs, 60), q, 0);
  check_response(build_empty(q, Rcode::noerror), q, 0);
  check_response(build_empty(q, Rcode::nxdomain), q, 3);
  check_response(build_empty(q, Rcode::servfail), q, 2);
  return 0;
}
