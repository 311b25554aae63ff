// SPDX-License-Identifier: MIT
// One filled-in example of every control message, shared by the unit tests,
// the fuzz seed generator and the benchmarks.
#pragma once

#include <vector>

#include "ntm/wire/messages.hpp"

namespace ntm::test {

wire::NodeId node_id(std::uint8_t seed);
wire::PathId path_id(std::uint8_t seed);
wire::Endpoint ep4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                   std::uint16_t port);
wire::Endpoint ep6(std::uint8_t last, std::uint16_t port);
wire::NodeInfo node_info(std::uint8_t seed, const char* fqdn);

// Every body type once, with every optional field present.
std::vector<wire::Body> sample_bodies();
// The largest RouteDirection the protocol allows (253-byte FQDNs, IPv6
// everywhere, both keys): it must still fit a control datagram.
wire::RouteDirection largest_route_direction();

}  // namespace ntm::test
