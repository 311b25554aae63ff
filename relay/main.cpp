// SPDX-License-Identifier: MIT
// ntm-rs: composition only.  `ntm-rs -c RELAY.conf run` serves (server.cpp);
// `ntm-rs -c RELAY.conf status [--json]` asks a running one.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "config.hpp"
#include "ntm/common/log.hpp"
#include "server.hpp"
#include "status.hpp"

int main(int argc, char** argv) {
  using namespace ntm::relay;
  CLI::App app{"ntm-rs: the NTMobile relay server"};
  app.set_version_flag("--version", "ntm-rs 0.1.0");
  std::string config_file = "/etc/ntm-rs/relay.conf";
  std::string log_level, socket;
  bool json = false;
  app.add_option("-c,--config", config_file, "configuration file (from ntm-dc relay add)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "override [rs] log_level");
  app.require_subcommand(1);
  auto* run_cmd = app.add_subcommand("run", "run the relay server");
  auto* status_cmd = app.add_subcommand("status", "ask a running ntm-rs for its paths");
  status_cmd->add_flag("--json", json, "JSON instead of text");
  status_cmd->add_option("--socket", socket, "status socket (default: [rs] status_socket)");
  CLI11_PARSE(app, argc, argv);

  if (*status_cmd) {
    try {
      return query_status(socket.empty() ? status_socket_of(config_file) : std::filesystem::path(socket), json);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ntm-rs: %s\n", e.what());
      return 2;
    }
  }
  (void)run_cmd;
  Config cfg;
  try {
    cfg = load_config(config_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntm-rs: %s\n", e.what());
    return 2;
  }
  if (!log_level.empty()) cfg.log_level = log_level;
  if (!ntm::common::init_logging("ntm-rs", cfg.log_level)) {
    std::fprintf(stderr, "ntm-rs: unknown log level '%s'\n", cfg.log_level.c_str());
    return 2;
  }
  try {
    return run_server(cfg, config_file);
  } catch (const std::exception& e) {
    spdlog::critical("ntm-rs: {}", e.what());
    return 1;
  }
}
