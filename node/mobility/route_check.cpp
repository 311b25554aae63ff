// SPDX-License-Identifier: MIT
#include "mobility/route_check.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

namespace {

// Whether the interface holding source address `src` has its carrier: a
// route through a cable that was just pulled (or a Wi-Fi that lost its
// access point) still exists until the address goes, but nothing it
// carries arrives.  An address no interface holds: yes (nothing to say).
bool carrier_of(const sockaddr_storage& src) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return true;
  bool running = true;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != src.ss_family) continue;
    bool same = false;
    if (src.ss_family == AF_INET)
      same = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr ==
             reinterpret_cast<const sockaddr_in*>(&src)->sin_addr.s_addr;
    else if (src.ss_family == AF_INET6)
      same = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr,
                         &reinterpret_cast<const sockaddr_in6*>(&src)->sin6_addr, 16) == 0;
    if (!same) continue;
    running = (i->ifa_flags & IFF_RUNNING) != 0;
    break;
  }
  ::freeifaddrs(list);
  return running;
}

}  // namespace

std::optional<wire::IpAddr> route_source(const wire::Endpoint& to) noexcept {
  if (to.empty()) return std::nullopt;
  sockaddr_storage ss{};
  const socklen_t len = common::to_sockaddr(to, ss);
  if (len == 0) return std::nullopt;
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  // No socket (out of descriptors): say "the address the socket would
  // have", so that nothing is held for a reason that has nothing to do with
  // routes.
  if (fd < 0) return wire::IpAddr{};
  // UDP connect() is the route lookup and the choice of a source address,
  // nothing more: ENETUNREACH without a route, EADDRNOTAVAIL (or EINVAL)
  // without an address to send from.
  std::optional<wire::IpAddr> out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0) {
    sockaddr_storage src{};
    socklen_t slen = sizeof src;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&src), &slen) != 0)
      out = wire::IpAddr{};  // a route, from an address it would not say
    else if (carrier_of(src))
      out = common::from_sockaddr(src).addr;
  }
  ::close(fd);
  return out;
}

bool has_route(const wire::Endpoint& to) noexcept { return route_source(to).has_value(); }

}  // namespace ntm::node
