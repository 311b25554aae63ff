// SPDX-License-Identifier: MIT
#include "federation/marker.hpp"

#include "ntm/common/udp_socket.hpp"

namespace ntm::dc::federation {

std::optional<wire::Endpoint> parse_marker(std::string_view txt) {
  // Exactly the publisher's form (dc/dns/publisher.cpp marker_text): a
  // version tag first, then the DC's endpoint.  Anything else (an SPF
  // record, a future version) is not ours.
  constexpr std::string_view kPrefix = "v=ntm1 dc=";
  if (!txt.starts_with(kPrefix)) return std::nullopt;
  wire::Endpoint e;
  if (!common::parse_endpoint(txt.substr(kPrefix.size()), e) || e.port == 0) return std::nullopt;
  return e;
}

std::optional<wire::Endpoint> find_marker(const std::vector<std::string>& texts) {
  for (const auto& t : texts)
    if (auto e = parse_marker(t)) return e;
  return std::nullopt;
}

std::vector<std::string> find_fingerprints(const std::vector<std::string>& texts) {
  // The publisher's form (dns-backend/src/text.cpp discovery_text): the
  // version tag, the endpoint, then the fingerprint as the last field.
  constexpr std::string_view kPrefix = "v=ntm1 endpoint=";
  constexpr std::string_view kFp = " fp=sha256:";
  std::vector<std::string> out;
  for (const std::string_view t : texts) {
    if (!t.starts_with(kPrefix)) continue;
    const auto at = t.find(kFp);
    if (at == std::string_view::npos) continue;
    const std::string_view hex = t.substr(at + kFp.size());
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
      continue;
    out.emplace_back(hex);
  }
  return out;
}

}  // namespace ntm::dc::federation
