// SPDX-License-Identifier: MIT
// ntm-dc: composition only.  Parses the command line, opens the control
// socket and runs the receive loop until SIGINT or SIGTERM.
#include <poll.h>

#include <CLI/CLI.hpp>
#include <array>
#include <csignal>
#include <cstdio>

#include "control/receiver.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/common/log.hpp"
#include "ntm/common/udp_socket.hpp"
#include "ntm/wire.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// No node store yet: the DC holds no keys, so every message is refused.
class EmptyKeyDirectory final : public ntm::dc::control::KeyDirectory {
 public:
  bool has_key(const ntm::wire::Header&) const override { return false; }
};

void log_stats(const ntm::dc::control::ReceiverStats& s) {
  spdlog::info("control: received={} dropped={} oversized={}", s.received, s.total_dropped(),
               s.oversized);
  for (std::size_t i = 1; i < s.dropped.size(); ++i)
    if (s.dropped[i])
      spdlog::info("control: dropped {} x {}", s.dropped[i],
                   ntm::wire::to_string(static_cast<ntm::wire::Error>(i)));
}

int serve(const std::string& listen, int stats_interval_s) {
  ntm::wire::Endpoint local;
  if (!ntm::common::parse_endpoint(listen, local)) {
    spdlog::error("--listen: not an address:port: '{}'", listen);
    return 2;
  }
  ntm::common::UdpSocket sock(local);
  spdlog::info("ntm-dc listening on {} (udp)", sock.local().to_string());
  std::fflush(nullptr);

  EmptyKeyDirectory keys;
  ntm::dc::control::Receiver receiver(keys);
  std::array<std::uint8_t, NTM_MAX_CONTROL + 1> buf{};
  std::uint64_t next_stats = ntm::common::mono_ms() + 1000ull * stats_interval_s;
  while (!g_stop) {
    pollfd pfd{sock.fd(), POLLIN, 0};
    ::poll(&pfd, 1, 500);
    for (;;) {
      ntm::wire::Endpoint from;
      const long n = sock.receive(buf, from);
      if (n < 0) break;
      const auto size = static_cast<std::size_t>(n);
      const auto e = receiver.classify(std::span(buf.data(), std::min(size, buf.size())), size);
      spdlog::debug("datagram from {} ({} bytes): {}", from.to_string(), size,
                    ntm::wire::to_string(e));
    }
    if (stats_interval_s > 0 && ntm::common::mono_ms() >= next_stats) {
      log_stats(receiver.stats());
      next_stats = ntm::common::mono_ms() + 1000ull * stats_interval_s;
    }
  }
  spdlog::info("ntm-dc stopping");
  log_stats(receiver.stats());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ntm-dc: NTMobile Direction Coordinator"};
  app.set_version_flag("--version", "ntm-dc 0.1.0");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  app.require_subcommand(1);

  auto* serve_cmd = app.add_subcommand("serve", "run the DC control service");
  std::string listen = "127.0.0.1:" + std::to_string(NTM_PORT_DC);
  int stats_interval_s = 0;
  serve_cmd->add_option("--listen", listen, "control endpoint address:port")->capture_default_str();
  serve_cmd->add_option("--stats-interval", stats_interval_s, "log counters every N s (0: at exit)");

  CLI11_PARSE(app, argc, argv);
  if (!ntm::common::init_logging("ntm-dc", log_level)) {
    std::fprintf(stderr, "ntm-dc: unknown --log-level '%s'\n", log_level.c_str());
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    if (*serve_cmd) return serve(listen, stats_interval_s);
  } catch (const std::exception& e) {
    spdlog::error("fatal: {}", e.what());
    return 1;
  }
  return 0;
}
