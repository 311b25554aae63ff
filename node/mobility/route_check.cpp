// SPDX-License-Identifier: MIT
#include "mobility/route_check.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

// Whether the interface holding source address `src` has its carrier: a
// route through a cable that was just pulled (or a Wi-Fi that lost its
// access point) still exists until the address goes, but nothing it
// carries arrives.  An address no interface holds: yes (nothing to say).
// `fd` is an open socket of src's family (for the interface ioctls).
bool RouteCheck::carrier_of(const wire::IpAddr& src, int fd) {
  if (src.family == wire::Family::v4) return carrier_of_v4(src, fd);
  if (!ifaces_) {
    ifaces_.emplace();
    ++dumps_;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return true;
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      const int fam = i->ifa_addr->sa_family;
      if (fam != AF_INET && fam != AF_INET6) continue;
      sockaddr_storage ss{};
      std::memcpy(&ss, i->ifa_addr, fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
      ifaces_->push_back({common::from_sockaddr(ss).addr, (i->ifa_flags & IFF_RUNNING) != 0});
    }
    ::freeifaddrs(list);
  }
  const auto it = std::find_if(ifaces_->begin(), ifaces_->end(),
                               [&](const Iface& f) { return f.addr == src; });
  return it == ifaces_->end() || it->running;
}

// IPv4, without the address dump: getifaddrs() is a netlink dump of every
// link and every address, ~56 us here, nine tenths of a check that runs on
// the interface thread while a path waits for its route (docs/benchmarks.md,
// "The data path's route check").  SIOCGIFCONF lists the IPv4 addresses
// with their interface names in one ioctl, SIOCGIFFLAGS gives that one
// interface's flags.
bool RouteCheck::carrier_of_v4(const wire::IpAddr& src, int fd) {
  if (!v4_names_) {
    v4_names_.emplace();
    ++dumps_;
    // A host has a handful of addresses; a larger buffer only when the
    // kernel filled this one (it cannot say how much more there is).
    std::vector<ifreq> buf(16);
    ifconf ifc{};
    for (;;) {
      ifc.ifc_len = static_cast<int>(buf.size() * sizeof(ifreq));
      ifc.ifc_req = buf.data();
      if (::ioctl(fd, SIOCGIFCONF, &ifc) != 0) return true;
      if (static_cast<std::size_t>(ifc.ifc_len) < buf.size() * sizeof(ifreq) || buf.size() >= 4096) break;
      buf.resize(buf.size() * 4);
    }
    const std::size_t n = static_cast<std::size_t>(ifc.ifc_len) / sizeof(ifreq);
    for (std::size_t i = 0; i < n; ++i) {
      if (buf[i].ifr_addr.sa_family != AF_INET) continue;
      sockaddr_storage ss{};
      std::memcpy(&ss, &buf[i].ifr_addr, sizeof(sockaddr_in));
      V4Name v{common::from_sockaddr(ss).addr, {}, std::nullopt};
      std::memcpy(v.name.data(), buf[i].ifr_name, IFNAMSIZ);
      v4_names_->push_back(v);
    }
  }
  const auto it = std::find_if(v4_names_->begin(), v4_names_->end(),
                               [&](const V4Name& v) { return v.addr == src; });
  if (it == v4_names_->end()) return true;
  if (!it->running) {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, it->name.data(), IFNAMSIZ);
    if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) return true;
    it->running = (ifr.ifr_flags & IFF_RUNNING) != 0;
  }
  return *it->running;
}

std::optional<wire::IpAddr> RouteCheck::source(const wire::Endpoint& to) {
  if (to.empty()) return std::nullopt;
  if (auto it = seen_.find(to); it != seen_.end()) return it->second;
  sockaddr_storage ss{};
  const socklen_t len = common::to_sockaddr(to, ss);
  if (len == 0) return std::nullopt;
  // A socket per lookup: a connected UDP socket keeps the source address
  // of its first connect() for the next one.
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return wire::IpAddr{};  // not remembered: the next path asks again
  ++lookups_;
  // UDP connect() is the route lookup and the choice of a source address,
  // nothing more: ENETUNREACH without a route, EADDRNOTAVAIL (or EINVAL)
  // without an address to send from.
  std::optional<wire::IpAddr> out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0) {
    sockaddr_storage src{};
    socklen_t slen = sizeof src;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&src), &slen) != 0) {
      out = wire::IpAddr{};  // a route, from an address it would not say
    } else {
      const auto addr = common::from_sockaddr(src).addr;
      if (carrier_of(addr, fd)) out = addr;
    }
  }
  ::close(fd);
  seen_.emplace(to, out);
  return out;
}

std::optional<wire::IpAddr> route_source(const wire::Endpoint& to) noexcept {
  try {
    RouteCheck c;
    return c.source(to);
  } catch (const std::bad_alloc&) {
    return wire::IpAddr{};  // as without a socket: do not hold for it
  }
}

bool has_route(const wire::Endpoint& to) noexcept { return route_source(to).has_value(); }

}  // namespace ntm::node
