// SPDX-License-Identifier: MIT
// The rtnetlink parser of ntmd's move detection, on messages built here
// (the socket itself is exercised by the netns mobility tier).
#include <doctest/doctest.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <vector>

#include "mobility/link_watch.hpp"

namespace ntm::node {

namespace {

template <typename Body>
void append(std::vector<std::uint8_t>& buf, std::uint16_t type, const Body& body) {
  const std::size_t at = buf.size();
  buf.resize(at + NLMSG_SPACE(sizeof(Body)), 0);
  auto* h = reinterpret_cast<nlmsghdr*>(buf.data() + at);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(Body));
  h->nlmsg_type = type;
  std::memcpy(NLMSG_DATA(h), &body, sizeof(Body));
}

ifaddrmsg addr(int family, unsigned index) {
  ifaddrmsg a{};
  a.ifa_family = static_cast<std::uint8_t>(family);
  a.ifa_index = index;
  return a;
}

rtmsg route(unsigned char dst_len, unsigned char table) {
  rtmsg r{};
  r.rtm_family = AF_INET;
  r.rtm_dst_len = dst_len;
  r.rtm_table = table;
  return r;
}

struct Watch {
  boost::asio::io_context io;
  std::vector<LinkEvent> seen;
  // "ntm-none0" does not exist: no interface index is the TUN's.
  LinkWatch w{io, "ntm-none0", [this](LinkEvent e) { seen.push_back(e); }};
};

}  // namespace

TEST_CASE("link watch: address, default route and link changes are moves") {
  Watch t;
  std::vector<std::uint8_t> buf;
  append(buf, RTM_NEWADDR, addr(AF_INET, 1000));
  append(buf, RTM_DELADDR, addr(AF_INET, 1000));
  append(buf, RTM_NEWROUTE, route(0, RT_TABLE_MAIN));
  append(buf, RTM_DELROUTE, route(0, RT_TABLE_MAIN));
  ifinfomsg link{};
  link.ifi_index = 1000;
  link.ifi_flags = IFF_UP;
  append(buf, RTM_NEWLINK, link);
  t.w.parse(buf);
  CHECK(t.seen == std::vector<LinkEvent>{LinkEvent::address, LinkEvent::address, LinkEvent::route,
                                         LinkEvent::route, LinkEvent::link});
}

TEST_CASE("link watch: what cannot move the node is left out") {
  Watch t;
  std::vector<std::uint8_t> buf;
  append(buf, RTM_NEWADDR, addr(AF_INET6, 1000));          // IPv6: the underlay is IPv4
  append(buf, RTM_NEWROUTE, route(10, RT_TABLE_MAIN));     // e.g. the TUN's virtual range
  append(buf, RTM_NEWROUTE, route(0, RT_TABLE_LOCAL));     // not the main table
  ifinfomsg lo{};
  lo.ifi_index = 1;
  lo.ifi_flags = IFF_LOOPBACK | IFF_UP;
  append(buf, RTM_NEWLINK, lo);
  append(buf, RTM_NEWADDR, addr(AF_INET, static_cast<unsigned>(if_nametoindex("lo"))));
  t.w.parse(buf);
  CHECK(t.seen.empty());
}

TEST_CASE("link watch: truncated and garbled buffers are ignored, not read past") {
  Watch t;
  std::vector<std::uint8_t> buf;
  append(buf, RTM_NEWADDR, addr(AF_INET, 1000));
  // A header that claims more than the buffer holds, and one too short for
  // its body.
  std::vector<std::uint8_t> cut(buf.begin(), buf.begin() + 20);
  t.w.parse(cut);
  auto* h = reinterpret_cast<nlmsghdr*>(buf.data());
  h->nlmsg_len = NLMSG_LENGTH(2);
  t.w.parse(buf);
  h->nlmsg_len = 4000;
  t.w.parse(buf);
  t.w.parse({});
  CHECK(t.seen.empty());
}

}  // namespace ntm::node
