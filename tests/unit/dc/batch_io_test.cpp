// SPDX-License-Identifier: MIT
// The DC's batched socket I/O over real loopback sockets.
#include "control/batch_io.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "ntm/common/udp_socket.hpp"

using ntm::common::UdpSocket;
using ntm::dc::control::InBatch;
using ntm::dc::control::OutBatch;
using ntm::wire::Endpoint;
using ntm::wire::IpAddr;

namespace {

Endpoint loopback(std::uint16_t port = 0) {
  Endpoint e;
  e.addr = IpAddr::v4(0x7f000001);
  e.port = port;
  return e;
}

std::vector<std::uint8_t> datagram(std::size_t n, std::uint8_t tag) {
  std::vector<std::uint8_t> d(n, tag);
  d[0] = tag;
  return d;
}

struct Got {
  std::uint8_t tag;
  std::size_t size;
  Endpoint from;
};

// Reads until nothing waits; returns what came, in arrival order.
std::vector<Got> drain(UdpSocket& s, InBatch& in, std::vector<std::size_t>& batches) {
  std::vector<Got> got;
  for (;;) {
    const std::size_t n = in.read(s.fd());
    if (n == 0) break;
    batches.push_back(n);
    for (std::size_t i = 0; i < n; ++i) got.push_back({in.data(i)[0], in.size(i), in.from(i)});
  }
  return got;
}

}  // namespace

TEST_CASE("dc batch I/O: more datagrams than a batch arrive whole, in order, from their source") {
  UdpSocket rx(loopback()), tx(loopback());
  OutBatch out;
  out.bind(tx.fd(), false);
  const std::size_t total = OutBatch::kBatch + 7;  // one automatic flush, then ours
  std::size_t failed = 0;
  for (std::size_t i = 0; i < total; ++i)
    failed += out.add(datagram(100 + i, static_cast<std::uint8_t>(i)), rx.local());
  failed += out.flush();
  CHECK(failed == 0);
  CHECK(out.empty());

  InBatch in;
  std::vector<std::size_t> batches;
  const auto got = drain(rx, in, batches);
  REQUIRE(got.size() == total);
  for (std::size_t i = 0; i < total; ++i) {
    CHECK(got[i].tag == static_cast<std::uint8_t>(i));
    CHECK(got[i].size == 100 + i);
    CHECK(got[i].from == tx.local());
  }
  REQUIRE(!batches.empty());
  CHECK(batches.front() == InBatch::kBatch);  // a full batch per read while they wait
}

TEST_CASE("dc batch I/O: a datagram longer than any control message is reported oversized") {
  UdpSocket rx(loopback()), tx(loopback());
  const auto big = datagram(NTM_MAX_CONTROL + 200, 9);
  REQUIRE(tx.send(big, rx.local()));
  const auto fits = datagram(NTM_MAX_CONTROL, 8);
  REQUIRE(tx.send(fits, rx.local()));
  InBatch in;
  REQUIRE(in.read(rx.fd()) == 2);
  CHECK(in.size(0) > NTM_MAX_CONTROL);
  CHECK(in.data(0).size() <= InBatch::kSlot);
  CHECK(in.size(1) == NTM_MAX_CONTROL);
  CHECK(in.data(1).size() == NTM_MAX_CONTROL);
  CHECK(in.read(rx.fd()) == 0);  // empty: no block, nothing read
}

TEST_CASE("dc batch I/O: a datagram too long for a slot is refused, not cut") {
  UdpSocket rx(loopback()), tx(loopback());
  OutBatch out;
  out.bind(tx.fd(), false);
  CHECK(out.add(datagram(NTM_MAX_CONTROL + 1, 1), rx.local()) == 1);
  CHECK(out.empty());
  CHECK(out.add(datagram(NTM_MAX_CONTROL, 2), rx.local()) == 0);
  CHECK(out.flush() == 0);
  InBatch in;
  REQUIRE(in.read(rx.fd()) == 1);
  CHECK(in.size(0) == NTM_MAX_CONTROL);
  CHECK(in.data(0)[0] == 2);
}

TEST_CASE("dc batch I/O: a refused destination is counted and the rest still leave") {
  UdpSocket rx(loopback()), tx(loopback());
  OutBatch out;
  out.bind(tx.fd(), false);
  Endpoint v6;  // an IPv6 destination on an IPv4 socket: the kernel refuses it
  REQUIRE(IpAddr::parse("::1", v6.addr));
  v6.port = 9;
  out.add(datagram(50, 1), rx.local());
  out.add(datagram(50, 2), v6);
  out.add(datagram(50, 3), rx.local());
  CHECK(out.flush() == 1);
  InBatch in;
  std::vector<std::size_t> batches;
  const auto got = drain(rx, in, batches);
  REQUIRE(got.size() == 2);
  CHECK(got[0].tag == 1);
  CHECK(got[1].tag == 3);
}

TEST_CASE("dc batch I/O: a dual-stack socket sends to and reports IPv4 peers as plain IPv4") {
  // The DC may listen on [::]; nodes and the view speak plain IPv4.
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  int off = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
  socklen_t len = sizeof any;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&any), &len) == 0);
  const std::uint16_t port = ntohs(any.sin6_port);

  UdpSocket node(loopback());
  REQUIRE(node.send(datagram(60, 4), loopback(port)));
  InBatch in;
  REQUIRE(in.read(fd) == 1);
  CHECK(in.from(0).addr.family == ntm::wire::Family::v4);
  CHECK(in.from(0) == node.local());

  OutBatch out;
  out.bind(fd, true);
  out.add(datagram(70, 5), node.local());
  CHECK(out.flush() == 0);
  std::vector<std::uint8_t> buf(2048);
  Endpoint from;
  long n = -1;
  for (int i = 0; i < 100 && n < 0; ++i) {
    n = node.receive(buf, from);
    if (n < 0) ::usleep(1000);
  }
  CHECK(n == 70);
  CHECK(buf[0] == 5);
  ::close(fd);
}
