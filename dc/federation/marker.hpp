// SPDX-License-Identifier: MIT
// The discovery records of docs/dns.md as a peer DC reads them.
// The NTMobile marker a DC publishes in TXT at each of its nodes' names,
// "v=ntm1 dc=<addr:port>" (docs/dns.md): a name that carries it is an
// NTMobile node served by the DC at that control endpoint.
#pragma once

#include <optional>
#include <string_view>
#include <vector>
#include <string>

#include "ntm/wire/types.hpp"

namespace ntm::dc::federation {

// The DC endpoint of one TXT string, or nullopt when it is not a marker.
std::optional<wire::Endpoint> parse_marker(std::string_view txt);
// The first marker among a name's TXT strings.
std::optional<wire::Endpoint> find_marker(const std::vector<std::string>& texts);

// The key fingerprints (lower-case hex) in the discovery TXT strings of
// _ntm-dc.<zone>, "v=ntm1 endpoint=<addr:port> fp=sha256:<hex>" (docs/dns.md):
// what a peer's certificate key is pinned to (docs/federation.md §8).
std::vector<std::string> find_fingerprints(const std::vector<std::string>& texts);

}  // namespace ntm::dc::federation
