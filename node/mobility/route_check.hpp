// SPDX-License-Identifier: MIT
// Whether a datagram to an endpoint could leave the host now: the kernel's
// route lookup, asked through connect() on a UDP socket (no packet is
// sent).  During a move the host has, for a few ms (or the seconds DHCP
// takes), no address or no default route; what a path sends then would be
// refused with ENETUNREACH and lost (docs/mobility.md §2, "Blackout").
#pragma once

#include <optional>

#include "ntm/wire/types.hpp"

namespace ntm::node {

// True when the kernel has a route (and a source address) for `to` and the
// interface of that source address has its carrier.  An empty endpoint has
// none.  Costs a socket, a route lookup and an address dump, tens of us:
// for rtnetlink events, not for packets.
bool has_route(const wire::Endpoint& to) noexcept;

// The same question, answered with the source address a datagram to `to`
// would leave from now; nothing when it could not leave.  The data path
// asks it to end a blackout hold by itself once the new network is
// configured (a source other than the host had before).
std::optional<wire::IpAddr> route_source(const wire::Endpoint& to) noexcept;

}  // namespace ntm::node
