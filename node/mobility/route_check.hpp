// SPDX-License-Identifier: MIT
// Whether a datagram to an endpoint could leave the host now: the kernel's
// route lookup, asked through connect() on a UDP socket (no packet is
// sent).  During a move the host has, for a few ms (or the seconds DHCP
// takes), no address or no default route; what a path sends then would be
// refused with ENETUNREACH and lost (docs/mobility.md §2, "Blackout").
#pragma once

#include <net/if.h>

#include <array>
#include <map>
#include <optional>
#include <vector>

#include "ntm/wire/types.hpp"

namespace ntm::node {

// The lookups of one move round (one rtnetlink batch), made once: the
// interfaces' carrier is read with one address dump, and each destination
// is looked up once (the paths through one RS, or to one peer, share it).
// A node with a thousand paths then pays a few lookups per event, not a
// thousand dumps while its NTM Updates wait.  For the round only: the
// host's state changes with the next event.
class RouteCheck {
 public:
  RouteCheck() = default;
  RouteCheck(const RouteCheck&) = delete;
  RouteCheck& operator=(const RouteCheck&) = delete;

  // The source address a datagram to `to` would leave from now: the
  // kernel has a route (and a source address) for it, and the interface of
  // that address has its carrier.  Nothing otherwise, or for an empty
  // endpoint.  No socket to ask with (out of descriptors): an empty address
  // (a way out, from where unknown), so that nothing is held for a reason
  // that has nothing to do with routes.
  std::optional<wire::IpAddr> source(const wire::Endpoint& to);
  bool has_route(const wire::Endpoint& to) { return source(to).has_value(); }

  // Route lookups and address dumps made so far (the cache's worth).
  std::size_t lookups() const { return lookups_; }
  std::size_t dumps() const { return dumps_; }

 private:
  bool carrier_of(const wire::IpAddr& src, int fd);
  bool carrier_of_v4(const wire::IpAddr& src, int fd);

  struct Iface {
    wire::IpAddr addr;
    bool running;
  };
  std::optional<std::vector<Iface>> ifaces_;  // IPv6: from getifaddrs
  struct V4Name {
    wire::IpAddr addr;
    std::array<char, IFNAMSIZ> name;
    std::optional<bool> running;  // asked once, when first needed
  };
  std::optional<std::vector<V4Name>> v4_names_;  // IPv4: from SIOCGIFCONF
  std::map<wire::Endpoint, std::optional<wire::IpAddr>> seen_;
  std::size_t lookups_ = 0, dumps_ = 0;
};

// One lookup with a RouteCheck of its own (the data path's, at a packet).
// Costs a socket, a route lookup and two interface ioctls (IPv4; an address
// dump for IPv6): about 8 us here.
std::optional<wire::IpAddr> route_source(const wire::Endpoint& to) noexcept;
bool has_route(const wire::Endpoint& to) noexcept;

}  // namespace ntm::node
