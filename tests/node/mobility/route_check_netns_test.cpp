// SPDX-License-Identifier: MIT
// RouteCheck against a real interface whose carrier comes and goes, in a
// network namespace of its own: a thread unshares CLONE_NEWNET (namespaces
// are per task), the `ip` commands it starts inherit it, and the veth, its
// addresses and routes vanish with the thread; nothing touches the host's
// network and no datagram is sent (a UDP connect() only looks the route
// up).  Root only; prints why it skips otherwise.
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "mobility/route_check.hpp"
#include "ntm/common/udp_socket.hpp"

namespace {

using ntm::wire::Endpoint;
using ntm::wire::IpAddr;

void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

bool running(const char* ifname) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  const bool up = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING);
  if (s >= 0) ::close(s);
  return up;
}

Endpoint endpoint(const char* text) {
  Endpoint e;
  if (!ntm::common::parse_endpoint(text, e)) throw std::runtime_error(std::string("bad endpoint ") + text);
  return e;
}

struct Seen {
  std::string error;
  bool carrier_before = true, carrier_after = false;
  std::optional<IpAddr> no_carrier, carrier, second_net, flushed;
  std::size_t round_lookups = 0, round_dumps = 0;
};

void in_namespace(Seen& s) {
  try {
    if (::unshare(CLONE_NEWNET) != 0) throw std::runtime_error("unshare failed");
    // a0 is up with two addresses; its other end b0 is down, so a0 has no
    // carrier: the cable is not plugged in.  The connected routes exist
    // all the same (marked linkdown), so the kernel's lookup succeeds.
    sh("ip link set lo up && ip link add a0 type veth peer name b0 && "
       "ip addr add 10.66.0.2/24 dev a0 && ip addr add 10.66.1.2/24 dev a0 && ip link set a0 up");
    const Endpoint peer = endpoint("10.66.0.7:4500"), other = endpoint("10.66.1.9:4500");
    s.carrier_before = running("a0");
    s.no_carrier = ntm::node::route_source(peer);
    // The cable goes in.
    sh("ip link set b0 up");
    for (int i = 0; i < 200 && !running("a0"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s.carrier_after = running("a0");
    s.carrier = ntm::node::route_source(peer);
    // A round: two destinations, two lookups, the interfaces listed once.
    ntm::node::RouteCheck round;
    round.source(peer);
    s.second_net = round.source(other);
    s.round_lookups = round.lookups();
    s.round_dumps = round.dumps();
    // The address goes (as in a move): no route at all.
    sh("ip addr flush dev a0");
    s.flushed = ntm::node::route_source(peer);
  } catch (const std::exception& e) {
    s.error = e.what();
  }
}

}  // namespace

TEST_CASE("route check: a route through an interface without carrier is no way out, in a namespace") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root (a network namespace of its own)");
    return;
  }
  Seen s;
  std::thread t(in_namespace, std::ref(s));
  t.join();
  REQUIRE_MESSAGE(s.error.empty(), s.error);
  REQUIRE_FALSE(s.carrier_before);
  REQUIRE(s.carrier_after);
  CHECK_FALSE(s.no_carrier.has_value());
  REQUIRE(s.carrier.has_value());
  CHECK(s.carrier->to_string() == "10.66.0.2");
  REQUIRE(s.second_net.has_value());
  CHECK(s.second_net->to_string() == "10.66.1.2");
  CHECK(s.round_lookups == 2);
  CHECK(s.round_dumps == 1);
  CHECK_FALSE(s.flushed.has_value());
}
