// SPDX-License-Identifier: MIT
// ntmd, the NTMobile node daemon.
//   ntmd -c NODE.conf run            register, resolve, tunnel (root: it creates a TUN device)
//   ntmd -c NODE.conf status [--json]
//   ntmd status --socket PATH [--json]
// NODE.conf is the file `ntm-dc node add` wrote, with an optional [ntmd]
// section (docs/data-plane.md §6).
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <spdlog/spdlog.h>
#include <sstream>

#include "agent/agent.hpp"
#include "config/node_config.hpp"
#include "datapath/tun_data_path.hpp"
#include "mobility/link_watch.hpp"
#include "ntm/common/asio_endpoint.hpp"
#include "ntm/common/log.hpp"
#include "ntm/common/service_notify.hpp"
#include "ntm/node/dns/front.hpp"
#include "status/status_report.hpp"
#include "status/status_server.hpp"

namespace {

using namespace ntm;
namespace asio = boost::asio;
using common::to_asio;

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// SIGHUP: the node's file again.  Only its key is taken while running
// (`ntm-dc node rekey` wrote a new one); anything else needs a restart.
void reload(const std::string& conf, const node::NodeConfig& running, node::Agent& agent) {
  node::NodeConfig fresh;
  try {
    fresh = node::load_node_config(conf);
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: {}; the running configuration stays", e.what());
    return;
  }
  if (!(fresh.id == running.id) || !(fresh.fqdn == running.fqdn)) {
    spdlog::error("SIGHUP: {} now names another node; not taken (restart to change it)", conf);
    return;
  }
  if (!agent.reload_key(fresh.key, fresh.key_epoch))
    spdlog::info("SIGHUP: the node key is unchanged");
}

int run(const std::string& conf, const node::NodeConfig& cfg) {
  asio::io_context io(1);
  node::TunDataPath dp(io, cfg.listen, cfg.tun, cfg.mtu, cfg.offload);
  node::Agent agent(io, cfg, dp);
  spdlog::info("ntmd: {} on {} (device {}), DC {}", cfg.fqdn.name, dp.local().to_string(),
               dp.device_name(), cfg.dc.to_string());

  std::unique_ptr<node::dns::DnsFront> front;
  if (cfg.dns_listen.port != 0) {
    node::dns::FrontConfig fc;
    fc.listen = to_asio(cfg.dns_listen);
    wire::Endpoint up = cfg.dns_upstream;
    if (up.empty()) up = node::upstream_from_resolv_conf(read_file("/etc/resolv.conf"), cfg.dns_listen);
    if (up.empty()) {
      spdlog::warn("dns: no upstream resolver ([ntmd] dns_upstream, /etc/resolv.conf): "
                   "names outside NTMobile get SERVFAIL");
      up.addr = wire::IpAddr::v4(0x7f000001);
      up.port = 9;  // discard: nothing answers
    }
    fc.upstream = to_asio(up);
    fc.policy = node::dns::Policy(cfg.passthrough);
    fc.tunnel_wait_ms = cfg.tunnel_wait_ms;
    front = std::make_unique<node::dns::DnsFront>(
        io, fc, [&agent](const std::string& name, std::function<void(node::dns::Answer)> done) {
          agent.resolve(name, [done = std::move(done)](const node::Resolution& r) {
            switch (r.kind) {
              case node::Resolution::Kind::address: done(node::dns::Answer::address(r.vip)); break;
              case node::Resolution::Kind::nxdomain: done(node::dns::Answer::nxdomain()); break;
              case node::Resolution::Kind::servfail: done(node::dns::Answer::servfail()); break;
            }
          });
        });
    spdlog::info("dns: resolver on {}, upstream {}", cfg.dns_listen.to_string(), up.to_string());
  }

  std::unique_ptr<node::StatusServer> status;
  try {
    status = std::make_unique<node::StatusServer>(io, cfg.status_socket, [&](bool json) {
      const auto s = agent.status();
      return json ? node::status_json(s, cfg.fqdn.name) : node::status_text(s, cfg.fqdn.name);
    });
  } catch (const std::exception& e) {
    spdlog::warn("status: no socket at {}: {}", cfg.status_socket, e.what());
  }

  agent.on_ready = [](std::uint32_t vip) {
    spdlog::info("ntmd ready: vip {}", wire::Vip{vip}.to_string());
    common::service_notify("READY=1");
  };
  agent.start();
  // Moves: the kernel tells us when addresses, links or the default route
  // change (docs/mobility.md); the agent's periodic check is only a net.
  node::LinkWatch links(io, dp.device_name(),
                        [&agent](node::LinkEvent e) {
                          agent.network_changed(node::to_string(e), e == node::LinkEvent::link);
                        });
  if (!links.start())
    spdlog::warn("mobility: no rtnetlink ({}); moves are noticed by the periodic check only",
                 std::strerror(errno));

  asio::signal_set hangups(io, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      reload(conf, cfg, agent);
      wait_hangup();
    });
  };
  wait_hangup();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    common::service_notify("STOPPING=1");
    links.stop();
    hangups.cancel();
    agent.stop();
    front.reset();
    status.reset();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ntmd: the NTMobile node daemon"};
  std::string conf, level = "info", socket;
  bool json = false;
  app.add_option("-c,--config", conf, "node configuration file (from ntm-dc node add)");
  app.add_option("--log-level", level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  auto* run_cmd = app.add_subcommand("run", "run the daemon");
  auto* status_cmd = app.add_subcommand("status", "show registration, VIP and paths");
  status_cmd->add_flag("--json", json, "JSON instead of text");
  status_cmd->add_option("--socket", socket, "status socket (default: from the config)");
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(level));
  try {
    if (status_cmd->parsed()) {
      if (socket.empty()) {
        if (conf.empty()) throw std::runtime_error("status: give -c NODE.conf or --socket PATH");
        socket = node::load_node_config(conf).status_socket;
      }
      std::fputs(node::query_status(socket, json).c_str(), stdout);
      return 0;
    }
    if (run_cmd->parsed()) {
      if (conf.empty()) throw std::runtime_error("run: -c NODE.conf is required");
      return run(conf, node::load_node_config(conf));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntmd: %s\n", e.what());
    return 1;
  }
  return 0;
}
