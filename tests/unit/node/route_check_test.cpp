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

TEST_CASE("route check: a round looks each destination up once and the addresses up once") {
  wire::Endpoint a, b;
  REQUIRE(common::parse_endpoint("127.0.0.1:9", a));
  REQUIRE(common::parse_endpoint("127.0.0.1:10", b));
  RouteCheck round;
  const auto src = round.source(a);
  REQUIRE(src);
  CHECK(src->to_string() == "127.0.0.1");  // where a datagram to it leaves from
  CHECK(round.lookups() == 1);
  CHECK(round.dumps() == 1);
  // The same destination again (a second path through the same RS): no
  // second lookup.
  CHECK(round.source(a) == src);
  CHECK(round.has_route(a));
  CHECK(round.lookups() == 1);
  // Another one: a lookup, and the carrier from the dump already made.
  CHECK(round.has_route(b));
  CHECK(round.lookups() == 2);
  CHECK(round.dumps() == 1);
  CHECK_FALSE(round.has_route(wire::Endpoint{}));
  CHECK(round.lookups() == 2);
  // The free function is a round of its own.
  CHECK(route_source(a) == src);
}

}  // namespace ntm::node
