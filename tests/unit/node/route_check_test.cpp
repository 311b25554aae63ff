// SPDX-License-Identifier: MIT
// has_route: the kernel's route lookup behind the blackout hold
// (docs/mobility.md §2, "Blackout").  Where there is no route at all is the
// netns tier's to show (tests/netns/mobility_test.sh, the moves' lost
// probes): an unprivileged test cannot take a route away.
#include <doctest/doctest.h>

#include "mobility/route_check.hpp"
#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

TEST_CASE("route check: loopback has a route, an empty endpoint has none") {
  wire::Endpoint lo;
  REQUIRE(common::parse_endpoint("127.0.0.1:9", lo));
  CHECK(has_route(lo));
  CHECK_FALSE(has_route(wire::Endpoint{}));
}

}  // namespace ntm::node
