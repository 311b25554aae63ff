// SPDX-License-Identifier: MIT
// ntm_dns_fixture: ntm_dns_backend serving a fixed published view on a unix
// socket, for pdns_test.sh.  SIGUSR1 swaps in the "after" view (a node
// moved from behind NAT to a global address, the serial advanced), as the
// DC does on a registration; SIGTERM stops.  Loopback and files only.
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>

#include "ntm/dns/backend.hpp"
#include "ntm/dns/socket_server.hpp"

namespace {

using namespace ntm::dns;

std::shared_ptr<const Snapshot> view(bool after) {
  ZoneInput z;
  z.id = 1;
  z.name = "ntm.example";
  z.serial = after ? 2024010102 : 2024010101;
  z.nameservers = {"ns1.ntm.example"};
  z.hostmaster = "hostmaster.ntm.example";
  z.discovery_txt = {discovery_text("203.0.113.10:4510", "00ff")};
  z.ns_addresses = {{"ns1.ntm.example", 0xC0000235}};
  const std::string m = marker_text("203.0.113.10:4510");
  std::vector<NodeEntry> nodes{
      {"node1.ntm.example", 0x0A000001u, m},
      {"mover.ntm.example", after ? std::optional<std::uint32_t>(0xCB007114u) : std::nullopt, m},
      {"deep.lab.ntm.example", 0xC6336401u, m},
  };
  return std::make_shared<const Snapshot>(build_snapshot({z}, nodes, Ttls{}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
    return 2;
  }
  boost::asio::io_context io;
  std::shared_ptr<const Snapshot> current = view(false);
  std::atomic<std::uint64_t> hooks{0};
  // The signal handlers run on the same I/O thread as the backend: no lock.
  Backend backend([&] { return current; },
                  [&](const NodeLookup&) { hooks.fetch_add(1, std::memory_order_relaxed); });
  SocketServerOptions opts;
  opts.path = argv[1];
  SocketServer server(io, backend, opts);
  backend.set_extra_stats(
      [&] { return server.stats_text() + "hook_calls " + std::to_string(hooks.load()) + "\n"; });
  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code&, int) { server.stop(); });
  boost::asio::signal_set swap(io, SIGUSR1);
  swap.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) current = view(true);
  });
  io.run();
  return 0;
}
