// SPDX-License-Identifier: MIT
// The two DNS messages federation needs: a recursive TXT query for one
// name, and the parse of its answer.  ldns builds and parses the bytes;
// this header speaks plain C++ so that ldns stays inside txt_message.cpp.
// The parser is a decoder of untrusted input (fuzz_txt_response).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ntm::dc::federation {

enum class TxtStatus : std::uint8_t {
  ok,         // an answer: texts holds the name's TXT strings (maybe none of ours)
  nxdomain,   // the name does not exist
  nodata,     // the name exists without TXT records
  failed,     // SERVFAIL, REFUSED, truncated ...: the resolver could not answer
  malformed,  // not a DNS message
  mismatch,   // a DNS message, but not the answer to our query (id, question)
};
const char* to_string(TxtStatus s) noexcept;

struct TxtAnswer {
  TxtStatus status = TxtStatus::malformed;
  std::vector<std::string> texts;  // one per TXT record, its strings joined
  std::uint32_t ttl_s = 0;         // how long the answer may be cached
};

// A query for name's TXT records with RD set and EDNS0 (1232 bytes); empty
// when name is not a valid domain name.
std::vector<std::uint8_t> build_txt_query(const std::string& name, std::uint16_t id);

// Parses the response to build_txt_query(name, id).  Never throws; bad
// input is `malformed` or `mismatch`.  TTLs are capped at max_ttl_s.
TxtAnswer parse_txt_response(std::span<const std::uint8_t> msg, const std::string& name,
                             std::uint16_t id, std::uint32_t max_ttl_s = 3600);

}  // namespace ntm::dc::federation
