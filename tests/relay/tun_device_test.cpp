// SPDX-License-Identifier: MIT
// common::TunDevice in a network namespace of its own: a thread unshares
// CLONE_NEWNET (namespaces are per task), so the interface, its address and
// its route vanish with the thread and nothing touches the host's network.
// Needs root and /dev/net/tun; prints why it skips otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

#include "ntm/common/tun_device.hpp"
#include "relay_test_util.hpp"

namespace {

struct Observed {
  std::string error;
  std::string name;
  std::uint32_t addr = 0, mask = 0;
  int mtu = 0;
  bool up = false;
  bool route = false;
  std::string ipv6_disabled;
  bool udp_arrived = false;
  std::uint8_t proto = 0;
  std::uint32_t dst = 0;
};

std::uint32_t get_inet(int s, unsigned long req, const std::string& name) {
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(s, req, &ifr) != 0) return 0;
  sockaddr_in sin;
  std::memcpy(&sin, &ifr.ifr_addr, sizeof sin);
  return ntohl(sin.sin_addr.s_addr);
}

void in_namespace(Observed& o) {
  try {
    if (::unshare(CLONE_NEWNET) != 0) throw std::system_error(errno, std::generic_category(), "unshare");
    ntm::common::TunDevice tun("ntmtest%d");
    o.name = tun.name();
    tun.disable_ipv6();
    tun.set_mtu(1400);
    tun.add_address(0x64400001, 10);  // 100.64.0.1/10
    tun.up();
    tun.add_route(0x0a630000, 16);    // 10.99.0.0/16 dev tun
    tun.set_nonblocking(true);
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    o.addr = get_inet(s, SIOCGIFADDR, o.name);
    o.mask = get_inet(s, SIOCGIFNETMASK, o.name);
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, o.name.data(), o.name.size());
    if (::ioctl(s, SIOCGIFMTU, &ifr) == 0) o.mtu = ifr.ifr_mtu;
    if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) o.up = ifr.ifr_flags & IFF_UP;
    // This thread's namespace: /proc/thread-self, not /proc/self.
    std::ifstream routes("/proc/thread-self/net/route");
    std::string line;
    while (std::getline(routes, line))
      if (line.starts_with(o.name) && line.find("0000630A") != std::string::npos) o.route = true;
    std::ifstream v6("/proc/sys/net/ipv6/conf/" + o.name + "/disable_ipv6");
    std::getline(v6, o.ipv6_disabled);
    // A datagram to the routed range comes out of the TUN as IPv4/UDP.
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(0x0a630005);
    const char msg[] = "hello";
    ::sendto(s, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{tun.fd(), POLLIN, 0};
    std::uint8_t buf[2048];
    for (int i = 0; i < 10 && !o.udp_arrived; ++i) {
      if (::poll(&p, 1, 200) <= 0) continue;
      const ssize_t n = ::read(tun.fd(), buf, sizeof buf);
      if (n >= 20 && (buf[0] >> 4) == 4) {
        o.proto = buf[9];
        o.dst = (std::uint32_t{buf[16]} << 24) | (std::uint32_t{buf[17]} << 16) |
                (std::uint32_t{buf[18]} << 8) | buf[19];
        o.udp_arrived = o.proto == 17;
      }
    }
    ::close(s);
  } catch (const std::exception& e) {
    o.error = e.what();
  }
}

}  // namespace

TEST_CASE("tun device: address, mtu, up, route and a datagram through it, in a namespace") {
  if (const char* why = ntm::test::netns_unavailable()) {
    MESSAGE("skipped: " << why);
    return;
  }
  Observed o;
  std::thread t(in_namespace, std::ref(o));
  t.join();
  REQUIRE_MESSAGE(o.error.empty(), o.error);
  CHECK(o.name.starts_with("ntmtest"));
  CHECK(o.addr == 0x64400001);
  CHECK(o.mask == 0xffc00000);
  CHECK(o.mtu == 1400);
  CHECK(o.up);
  CHECK(o.route);
  if (!o.ipv6_disabled.empty()) CHECK(o.ipv6_disabled == "1");
  CHECK(o.udp_arrived);
  CHECK(o.dst == 0x0a630005);
}

TEST_CASE("tun device: errors name the device") {
  if (const char* why = ntm::test::netns_unavailable()) {
    MESSAGE("skipped: " << why);
    return;
  }
  std::string what;
  try {
    ntm::common::TunDevice tun("a-name-far-too-long-for-linux");
  } catch (const std::system_error& e) {
    what = e.what();
  }
  CHECK(what.find("a-name-far-too-long-for-linux") != std::string::npos);
}
