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

}  // namespace ntm::dc::federation
