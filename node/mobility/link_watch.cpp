// SPDX-License-Identifier: MIT
#include "mobility/link_watch.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace ntm::node {

std::string_view to_string(LinkEvent e) {
  switch (e) {
    case LinkEvent::address: return "address";
    case LinkEvent::route: return "default route";
    case LinkEvent::link: return "link";
    case LinkEvent::overrun: return "missed events";
  }
  return "unknown";
}

LinkWatch::LinkWatch(boost::asio::io_context& io, std::string ignore_device, Handler on_change)
    : ignore_device_(std::move(ignore_device)), on_change_(std::move(on_change)), watch_(io) {}

LinkWatch::~LinkWatch() { stop(); }

bool LinkWatch::start() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return false;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    errno = e;
    return false;
  }
  // A burst of events (an interface with many routes going away) must not
  // overrun the socket; if it still does, ENOBUFS says so and counts as a
  // change.
  const int size = 1 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  watch_.assign(::dup(fd_));
  running_ = true;
  wait();
  return true;
}

void LinkWatch::stop() {
  if (!running_) return;
  running_ = false;
  boost::system::error_code ec;
  watch_.cancel(ec);
  watch_.close(ec);
  ::close(fd_);
  fd_ = -1;
}

void LinkWatch::wait() {
  watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec || !running_) return;
                      drain();
                      if (running_) wait();
                    });
}

void LinkWatch::drain() {
  alignas(nlmsghdr) std::array<std::uint8_t, 16384> buf;
  for (;;) {
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == ENOBUFS) {  // the kernel dropped events: assume the worst
        on_change_(LinkEvent::overrun);
        continue;
      }
      return;  // EAGAIN: drained
    }
    parse(std::span(buf.data(), static_cast<std::size_t>(n)));
  }
}

bool LinkWatch::ignored_interface(int ifindex) const {
  if (ifindex <= 0) return false;
  if (!ignore_device_.empty() &&
      static_cast<int>(::if_nametoindex(ignore_device_.c_str())) == ifindex)
    return true;
  char name[IF_NAMESIZE] = {};
  return ::if_indextoname(static_cast<unsigned>(ifindex), name) && std::strcmp(name, "lo") == 0;
}

void LinkWatch::parse(std::span<const std::uint8_t> buf) {
  // The kernel aligns every message; a copy keeps the macros' reads aligned
  // whatever the caller's buffer.
  if (buf.empty()) return;
  alignas(nlmsghdr) std::array<std::uint8_t, 16384> local;
  const std::size_t len = std::min(buf.size(), local.size());
  std::memcpy(local.data(), buf.data(), len);
  // NLMSG_OK/NLMSG_NEXT spelled out: the macros mix signed and unsigned.
  for (std::size_t off = 0; len - off >= sizeof(nlmsghdr);) {
    const auto* h = reinterpret_cast<const nlmsghdr*>(local.data() + off);
    if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > len - off) break;
    off += std::min<std::size_t>(NLMSG_ALIGN(h->nlmsg_len), len - off);
    switch (h->nlmsg_type) {
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) break;
        const auto* a = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
        if (a->ifa_family == AF_INET && !ignored_interface(static_cast<int>(a->ifa_index)))
          on_change_(LinkEvent::address);
        break;
      }
      case RTM_NEWROUTE:
      case RTM_DELROUTE: {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) break;
        const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
        // Only the default route of the main table decides where our
        // datagrams leave from; the TUN's virtual-range route is ours.
        if (r->rtm_family == AF_INET && r->rtm_dst_len == 0 && r->rtm_table == RT_TABLE_MAIN)
          on_change_(LinkEvent::route);
        break;
      }
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) break;
        const auto* l = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        if (!(l->ifi_flags & IFF_LOOPBACK) && !ignored_interface(l->ifi_index))
          on_change_(LinkEvent::link);
        break;
      }
      default: break;
    }
  }
}

}  // namespace ntm::node
