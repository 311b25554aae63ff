// SPDX-License-Identifier: MIT
// The cost of the data path's route check during a move's blackout
// (docs/mobility.md §2, "Blackout"; docs/benchmarks.md, "The data path's
// route check"): while a packet is kept on a path waiting for its route,
// the interface thread asks after a batch, at most every 200 us, where a
// datagram to the peer would leave from now (`route_source`: a socket, a
// UDP connect() that is the kernel's route lookup, getsockname, and the
// interface's carrier by two ioctls).  That is work the thread does
// not spend on packets, so it is set against the per-packet work of the
// same thread: sealing one 1,400-byte Capsulated Packet.
//
// The two take turns in short slices (as in bench_wire.cpp: the machine is
// shared and noisy, and both then sample the same noise); each reports the
// median of its slices, in ns per call of the wall clock.  Output: one
// "name value" line per figure, for bench/run_route_check_bench.sh.
//
// No datagram is sent: a UDP connect() only looks the route up.  The script
// runs this inside a namespace it made, with a route for the destination.
#include <ifaddrs.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "mobility/route_check.hpp"
#include "ntm/common/udp_socket.hpp"
#include "ntm/wire/capsule.hpp"
#include "ntm/wire/secret_key.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kPayload = 1400;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename F>
double ns_per_call(int calls, F&& f) {
  const auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) f();
  const auto t1 = Clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ADDR:PORT [SLICES] [CALLS_PER_SLICE]\n", argv[0]);
    return 2;
  }
  ntm::wire::Endpoint to;
  if (!ntm::common::parse_endpoint(argv[1], to)) {
    std::fprintf(stderr, "route_check_cost: bad endpoint '%s'\n", argv[1]);
    return 2;
  }
  const int slices = argc > 2 ? std::atoi(argv[2]) : 41;
  const int calls = argc > 3 ? std::atoi(argv[3]) : 500;
  if (slices < 1 || calls < 1) {
    std::fprintf(stderr, "route_check_cost: SLICES and CALLS_PER_SLICE must be >= 1\n");
    return 2;
  }
  // The destination must have a route: a figure for the refused lookup
  // (ENETUNREACH returns before the source choice and the dump) would
  // understate the cost once the network is back.
  const auto src = ntm::node::route_source(to);
  if (!src || src->family == ntm::wire::Family::none) {
    std::fprintf(stderr, "route_check_cost: no route with a source address to %s\n", argv[1]);
    return 1;
  }

  ntm::wire::PathId path{};
  path.bytes[0] = 1;
  ntm::wire::CapsuleSealer tx(ntm::wire::SecretKey::random(), ntm::wire::Role::initiator, path, 0);
  std::vector<std::uint8_t> frame(NTM_CAPSULE_OVERHEAD + kPayload, 0x5a);
  std::size_t sink = 0;
  sockaddr_storage ss{};
  const socklen_t len = ntm::common::to_sockaddr(to, ss);
  // The route lookup alone (a socket, connect, getsockname, close), and
  // the address dump (getifaddrs) that read the carrier until SIOCGIFCONF
  // took its place: what the change saved.
  auto lookup = [&] {
    const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) std::abort();
    sockaddr_storage src{};
    socklen_t slen = sizeof src;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&src), &slen) == 0)
      ++sink;
    ::close(fd);
  };
  auto dump = [&] {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) std::abort();
    sink += list != nullptr;
    ::freeifaddrs(list);
  };
  std::vector<double> route, seal, lookups, dumps;
  for (int s = 0; s < slices; ++s) {
    route.push_back(ns_per_call(calls, [&] { sink += ntm::node::route_source(to).has_value(); }));
    lookups.push_back(ns_per_call(calls, lookup));
    dumps.push_back(ns_per_call(calls, dump));
    seal.push_back(ns_per_call(calls, [&] {
      ntm::wire::Error err = ntm::wire::Error::ok;
      sink += tx.seal(frame, kPayload, err);
      if (err != ntm::wire::Error::ok) std::abort();
    }));
  }
  if (sink == 0) std::abort();  // keeps the calls
  const double r = median(route), c = median(seal);
  std::printf("# source %s, %d slices of %d calls each\n", src->to_string().c_str(), slices, calls);
  std::printf("route_check_ns %.0f\n", r);
  std::printf("route_lookup_ns %.0f\n", median(lookups));
  std::printf("address_dump_ns %.0f\n", median(dumps));
  std::printf("capsule_seal_1400_ns %.0f\n", c);
  std::printf("route_check_in_seals %.1f\n", r / c);
  // At most one check every 200 us (kRouteCheckEveryUs) while a packet is
  // kept: the share of the interface thread's time at that rate.
  std::printf("share_at_200us_pct %.1f\n", 100.0 * r / 200000.0);
  return 0;
}
