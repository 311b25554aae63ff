// SPDX-License-Identifier: MIT
// Kernel forwarding (relay/kernel_forward.*): the rules it writes and the
// routes it chooses (pure), then real capsules through real nftables rules
// in three network namespaces made here: end A (two addresses, for a move),
// the relay R (a router; the relay endpoint on its loopback, as in the
// tunnel benchmark) and end B.  A plain UDP socket on the relay endpoint
// stands for ntm-rs's own: whatever the kernel does not carry must arrive
// there, and what it carries must not.  Needs root; prints why it skips.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kernel_forward.hpp"
#include "relay_test_util.hpp"

using namespace ntm;
using namespace ntm::relay;

namespace {

wire::Endpoint ep(const char* a, std::uint16_t port) {
  wire::Endpoint e;
  in_addr in{};
  ::inet_pton(AF_INET, a, &in);
  e.addr = wire::IpAddr::v4(ntohl(in.s_addr));
  e.port = port;
  return e;
}

wire::PathId path_id(std::uint8_t seed) {
  wire::PathId id;
  for (std::size_t i = 0; i < id.bytes.size(); ++i)
    id.bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
  return id;
}

// A forward path with both ends known (what two Tunnel Requests leave).
std::unique_ptr<RelayPath> forward_path(const wire::PathId& id, std::uint8_t epoch,
                                        std::optional<wire::Endpoint> init,
                                        std::optional<wire::Endpoint> resp) {
  auto p = std::make_unique<RelayPath>();
  p->id = id;
  p->mode = wire::RelayMode::forward;
  p->key_epoch = epoch;
  p->keys.epoch = epoch;
  p->idle_timeout_ms = 300'000;
  p->endpoint[kInitiator] = init;
  p->endpoint[kResponder] = resp;
  return p;
}

// A Capsulated Packet's cleartext header and 24 bytes standing for the
// ciphertext and tag (the relay never opens them).
std::vector<std::uint8_t> capsule(const wire::PathId& id, int role, std::uint8_t epoch,
                                  std::uint8_t type = 11, std::uint8_t fill = 0xab) {
  std::vector<std::uint8_t> d(56, fill);
  d[0] = 1;
  d[1] = type;
  d[2] = static_cast<std::uint8_t>(0x01 | role << 2);
  d[3] = epoch;
  for (int i = 4; i < 16; ++i) d[i] = static_cast<std::uint8_t>(i);
  std::memcpy(d.data() + 16, id.bytes.data(), 16);
  return d;
}

}  // namespace

TEST_CASE("kernel forwarding: which paths the kernel may carry") {
  const std::set<std::uint32_t> local{0x7f000001, 0xcb007114};  // 127.0.0.1, 203.0.113.20
  const auto id = path_id(1);
  auto p = forward_path(id, 3, ep("198.51.100.2", 4520), ep("198.51.100.6", 31000));
  auto r = kernel_route(*p, local);
  REQUIRE(r);
  CHECK(r->end[kInitiator] == ep("198.51.100.2", 4520));
  CHECK(r->end[kResponder] == ep("198.51.100.6", 31000));
  CHECK(r->n_epochs == 1);
  CHECK(r->epochs[0] == 3);
  // During a re-direction's switch the previous epoch is carried too.
  p->previous = std::make_unique<PathKeys>();
  p->previous->epoch = 2;
  r = kernel_route(*p, local);
  REQUIRE(r);
  CHECK(r->n_epochs == 2);
  CHECK(r->epochs[1] == 2);

  CHECK_FALSE(kernel_route(*forward_path(id, 0, ep("198.51.100.2", 4520), std::nullopt), local));
  CHECK_FALSE(kernel_route(*forward_path(id, 0, std::nullopt, ep("198.51.100.2", 4520)), local));
  // An end on this host (loopback, or one of its addresses): a rewritten
  // capsule would be delivered here with the sender's source, not forwarded.
  CHECK_FALSE(kernel_route(*forward_path(id, 0, ep("127.0.0.2", 1), ep("198.51.100.6", 2)), local));
  CHECK_FALSE(
      kernel_route(*forward_path(id, 0, ep("203.0.113.20", 1), ep("198.51.100.6", 2)), local));
  wire::Endpoint v6;
  v6.addr.family = wire::Family::v6;
  v6.addr.bytes[15] = 1;
  v6.port = 4520;
  CHECK_FALSE(kernel_route(*forward_path(id, 0, v6, ep("198.51.100.6", 2)), local));
  auto t = forward_path(id, 0, ep("198.51.100.2", 4520), ep("198.51.100.6", 2));
  t->mode = wire::RelayMode::translate;
  CHECK_FALSE(kernel_route(*t, local));
}

TEST_CASE("kernel forwarding: the nftables scripts and the counters' parser") {
  const auto relay = ep("203.0.113.20", 4530);
  const std::string table = fwd_table_script(relay);
  // A stale table is removed in the same transaction; capsules to the relay
  // endpoint are looked up by path ID; carried ones leave from the relay.
  CHECK(table.find("delete table ip ntm-rs-fwd") != std::string::npos);
  CHECK(
      table.find("ip daddr 203.0.113.20 udp dport 4530 @th,64,16 0x010b @th,192,128 vmap @paths") !=
      std::string::npos);
  CHECK(table.find("priority raw") != std::string::npos);
  CHECK(table.find("ct state untracked @th,64,16 0x010b @th,192,128 @carried ip saddr set "
                   "203.0.113.20 udp sport set 4530") != std::string::npos);

  const auto id = path_id(0x10);
  KernelRoute r;
  r.end[kInitiator] = ep("198.51.100.2", 4520);
  r.end[kResponder] = ep("198.51.100.6", 31000);
  r.epochs[0] = 4;
  r.epochs[1] = 3;
  r.n_epochs = 2;
  const std::string hex = id.to_hex();
  const std::string fresh = fwd_install_script(id, r, true);
  CHECK(fresh.find("add counter ip ntm-rs-fwd c" + hex) != std::string::npos);
  CHECK(fresh.find("add element ip ntm-rs-fwd paths { 0x" + hex + " : jump p" + hex + " }") !=
        std::string::npos);
  // Each end's capsules, of the path's epochs, only from its endpoint, to
  // the other end's.
  CHECK(fresh.find("@th,80,8 1 @th,88,8 { 4, 3 } ip saddr 198.51.100.2 udp sport 4520 ip daddr set "
                   "198.51.100.6 udp dport set 31000 counter name \"c" +
                   hex + "\" notrack accept") != std::string::npos);
  CHECK(
      fresh.find("@th,80,8 5 @th,88,8 { 4, 3 } ip saddr 198.51.100.6 udp sport 31000 ip daddr set "
                 "198.51.100.2 udp dport set 4520") != std::string::npos);
  const std::string update = fwd_install_script(id, r, false);
  CHECK(update.find("add counter") == std::string::npos);
  CHECK(update.find("flush chain ip ntm-rs-fwd p" + hex) != std::string::npos);
  const std::string gone = fwd_remove_script(id);
  CHECK(gone.find("delete chain ip ntm-rs-fwd p" + hex) != std::string::npos);
  CHECK(gone.find("delete counter ip ntm-rs-fwd c" + hex) != std::string::npos);

  const std::string listed = "table ip ntm-rs-fwd {\n\tcounter c" + hex +
                             " {\n\t\tpackets 12 bytes 3456\n\t}\n\n"
                             "\tcounter cshort {\n\t\tpackets 1 bytes 1\n\t}\n}\n";
  const auto c = parse_fwd_counters(listed);
  CHECK(c.size() == 1);
  REQUIRE(c.count(hex));
  CHECK(c.at(hex).first == 12);
  CHECK(c.at(hex).second == 3456);
  CHECK(parse_fwd_counters("garbage\npackets x bytes y\n").empty());
}

TEST_CASE("kernel forwarding: the worker applies in order and stops at the first failure") {
  NftWorker w;
  w.submit("this is not nft syntax\n");
  w.wait_idle();
  const auto f = w.failure();
  REQUIRE(f);
  CHECK(f->find("syntax error") != std::string::npos);
  // Later scripts are dropped: the owner switches kernel forwarding off.
  w.submit("list tables\n");
  w.wait_idle();
  CHECK(w.failure() == f);
}

namespace {

// Three namespaces A - R - B (see the top of the file); removed at the end.
struct World {
  std::string a, r, b;
  bool ok = false;
  int home = -1;

  World() {
    const std::string p = "kfw" + std::to_string(::getpid());
    a = p + "a";
    r = p + "r";
    b = p + "b";
    const std::string s =
        "set -e; ip netns add " + a + "; ip netns add " + r + "; ip netns add " + b + "; ip -n " +
        r + " link add kr0 type veth peer name ka0 netns " + a + "; ip -n " + r +
        " link add kr1 type veth peer name kb0 netns " + b + "; ip -n " + r +
        " addr add 10.201.1.1/24 dev kr0; ip -n " + r + " addr add 10.201.2.1/24 dev kr1; ip -n " +
        r + " addr add 203.0.113.20/32 dev lo" + "; ip -n " + a +
        " addr add 10.201.1.2/24 dev ka0; ip -n " + a + " addr add 10.201.1.3/24 dev ka0; ip -n " +
        b + " addr add 10.201.2.2/24 dev kb0" + "; for n in " + a + " " + r + " " + b +
        "; do ip -n $n link set lo up; done" + "; ip -n " + r + " link set dev kr0 up; ip -n " + r +
        " link set dev kr1 up; ip -n " + a + " link set dev ka0 up; ip -n " + b +
        " link set dev kb0 up" + "; ip -n " + a + " route add default via 10.201.1.1; ip -n " + b +
        " route add default via 10.201.2.1" + "; ip netns exec " + r +
        " sysctl -qw net.ipv4.ip_forward=1";
    ok = std::system(("bash -c '" + s + "' >/dev/null 2>&1").c_str()) == 0;
    home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  }
  ~World() {
    if (home >= 0) {
      ::setns(home, CLONE_NEWNET);
      ::close(home);
    }
    std::system(("ip netns del " + a + " 2>/dev/null; ip netns del " + r +
                 " 2>/dev/null; ip netns del " + b + " 2>/dev/null")
                    .c_str());
  }
  bool enter(const std::string& ns) const {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool done = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    return done;
  }
};

int bound_udp(const wire::Endpoint& e) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(e.port);
  std::memcpy(&sin.sin_addr, e.addr.bytes.data(), 4);
  if (::bind(s, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

void send_to(int s, const std::vector<std::uint8_t>& d, const wire::Endpoint& to) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(to.port);
  std::memcpy(&sin.sin_addr, to.addr.bytes.data(), 4);
  ::sendto(s, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
}

struct Got {
  std::vector<std::uint8_t> data;
  wire::Endpoint from;
};

std::optional<Got> receive(int s, int wait_ms) {
  pollfd p{s, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) <= 0) return std::nullopt;
  Got g;
  g.data.resize(2048);
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  const ssize_t n =
      ::recvfrom(s, g.data.data(), g.data.size(), 0, reinterpret_cast<sockaddr*>(&sin), &len);
  if (n < 0) return std::nullopt;
  g.data.resize(static_cast<std::size_t>(n));
  g.from.addr = wire::IpAddr::v4(ntohl(sin.sin_addr.s_addr));
  g.from.port = ntohs(sin.sin_port);
  return g;
}

}  // namespace

TEST_CASE(
    "kernel forwarding: capsules through nftables between two namespaces, moves and removal") {
  if (const char* why = ntm::test::netns_unavailable()) {
    MESSAGE("skipped: " << why);
    return;
  }
  World w;
  REQUIRE_MESSAGE(w.ok, "could not build the namespaces (ip netns, veth)");
  const auto relay = ep("203.0.113.20", 4530);
  const auto a1 = ep("10.201.1.2", 5001), a2 = ep("10.201.1.3", 5002), b = ep("10.201.2.2", 6001);
  REQUIRE(w.enter(w.a));
  const int sa1 = bound_udp(a1), sa2 = bound_udp(a2);
  REQUIRE(w.enter(w.b));
  const int sb = bound_udp(b);
  REQUIRE(w.enter(w.r));
  const int sr = bound_udp(relay);  // stands for ntm-rs's socket
  REQUIRE((sa1 >= 0 && sa2 >= 0 && sb >= 0 && sr >= 0));

  PathTable paths(16);
  const auto id = path_id(0x40);
  {
    KernelForward k(relay, local_ipv4_addresses());
    REQUIRE(k.active());
    // One end known: nothing for the kernel; the capsule reaches ntm-rs.
    paths.put(forward_path(id, 2, a1, std::nullopt));
    k.sync(paths);
    k.wait();  // the worker applied it
    CHECK(k.paths() == 0);
    send_to(sa1, capsule(id, 0, 2), relay);
    CHECK(receive(sr, 1000));

    // Both ends: the kernel carries each end's capsules to the other,
    // unchanged, from the relay endpoint, and ntm-rs sees none of them.
    paths.find(id)->endpoint[kResponder] = b;
    paths.touch();
    k.sync(paths);
    k.wait();  // the worker applied it
    CHECK(k.paths() == 1);
    CHECK(paths.find(id)->in_kernel);
    const auto c1 = capsule(id, 0, 2, 11, 0x11);
    send_to(sa1, c1, relay);
    auto got = receive(sb, 1000);
    REQUIRE(got);
    CHECK(got->data == c1);
    CHECK(got->from == relay);
    const auto c2 = capsule(id, 1, 2, 11, 0x22);
    send_to(sb, c2, relay);
    got = receive(sa1, 1000);
    REQUIRE(got);
    CHECK(got->data == c2);
    CHECK(got->from == relay);
    CHECK_FALSE(receive(sr, 200));
    // A capsule of the same path that R only routes, from A to B's own
    // address (a path the DC moved from relay to direct, through a relay
    // host that is also the ends' router), keeps its source.
    send_to(sa1, c1, b);
    got = receive(sb, 1000);
    REQUIRE(got);
    CHECK(got->data == c1);
    CHECK(got->from == a1);

    // What the kernel must leave to ntm-rs: a capsule from another source,
    // of another epoch, in the wrong role for its source, and a control
    // message of the path.
    send_to(sa2, capsule(id, 0, 2), relay);
    CHECK(receive(sr, 1000));
    send_to(sa1, capsule(id, 0, 7), relay);
    CHECK(receive(sr, 1000));
    send_to(sa1, capsule(id, 1, 2), relay);
    CHECK(receive(sr, 1000));
    send_to(sa1, capsule(id, 0, 2, 12), relay);  // an Update Request's header
    CHECK(receive(sr, 1000));
    CHECK_FALSE(receive(sb, 200));

    // The counters: two capsules carried, the path alive.
    RelayPath& p = *paths.find(id);
    p.last_active_ms = 0;
    CHECK(k.counters_due(paths, 400'000, 2000));
    k.read_counters(paths, 400'000);
    CHECK(p.kernel_forwarded == 2);
    CHECK(p.forwarded == 2);
    CHECK(p.last_active_ms == 400'000);
    CHECK(p.bytes == 2 * (c1.size() + 28));  // nftables counts IP packets
    CHECK_FALSE(k.counters_due(paths, 400'000, 2000));

    // A moves to its second address: the rules follow, both ways.
    p.endpoint[kInitiator] = a2;
    paths.touch();
    k.sync(paths);
    k.wait();  // the worker applied it
    send_to(sa2, c1, relay);
    got = receive(sb, 1000);
    REQUIRE(got);
    CHECK(got->data == c1);
    send_to(sb, c2, relay);
    got = receive(sa2, 1000);
    REQUIRE(got);
    CHECK(got->from == relay);
    CHECK_FALSE(receive(sa1, 200));
    send_to(sa1, c1, relay);  // the old place now reaches ntm-rs only
    CHECK(receive(sr, 1000));

    // The same path put anew (same ID and ends): still carried, and the
    // new entry says so.
    paths.put(forward_path(id, 2, a2, b));
    k.sync(paths);
    k.wait();  // the worker applied it
    CHECK(k.paths() == 1);
    CHECK(paths.find(id)->in_kernel);

    // The path goes: so do its rules.
    paths.erase(id);
    k.sync(paths);
    k.wait();  // the worker applied it
    CHECK(k.paths() == 0);
    send_to(sa2, c1, relay);
    CHECK(receive(sr, 1000));
    CHECK_FALSE(receive(sb, 200));
  }
  // The table leaves with ntm-rs.
  CHECK(std::system(
            ("ip netns exec " + w.r + " nft list table ip ntm-rs-fwd >/dev/null 2>&1").c_str()) !=
        0);
  for (int s : {sa1, sa2, sb, sr}) ::close(s);
}
