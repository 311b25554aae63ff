// SPDX-License-Identifier: MIT
// ntm-dc: composition only.  Parses the command line and hands over to
// serve (daemon.cpp), migrate (database.cpp) or the enrollment commands.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/config.hpp"
#include "daemon.hpp"
#include "database.hpp"
#include "enroll/enroll.hpp"
#include "ntm/common/log.hpp"
#include "store/migrate.hpp"
#include "store/store.hpp"

namespace {

using namespace ntm::dc;

struct Args {
  std::string config_file = "/etc/ntm-dc/ntm-dc.conf";
  std::string log_level;
  std::string name;
  std::string out;
  std::string grace;  // rekey --grace
};

int enrollment(const config::Config& cfg, const std::function<void(store::Store&)>& fn) {
  Database db(cfg, Database::Role::command);
  migrate_database(db.url());
  store::Store store(db.url());
  fn(store);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ntm-dc: the NTMobile Direction Coordinator"};
  app.set_version_flag("--version", "ntm-dc 0.1.0");
  Args a;
  app.add_option("-c,--config", a.config_file, "configuration file")->capture_default_str();
  app.add_option("--log-level", a.log_level, "override [log] level");
  app.require_subcommand(1);

  auto* serve_cmd = app.add_subcommand("serve", "run the DC");
  auto* migrate_cmd = app.add_subcommand("migrate", "apply pending schema migrations and exit");

  auto* node = app.add_subcommand("node", "enroll, list, show, rekey or remove nodes");
  node->require_subcommand(1);
  auto* node_add = node->add_subcommand("add", "enroll a node and write its config file");
  node_add->add_option("fqdn", a.name, "the node's name, inside a zone this DC serves")->required();
  node_add->add_option("-o,--out", a.out, "where to write the node's config ('-': stdout)");
  auto* node_list = node->add_subcommand("list", "list nodes");
  auto* node_show = node->add_subcommand("show", "show one node");
  node_show->add_option("fqdn", a.name)->required();
  auto* node_remove = node->add_subcommand("remove", "revoke a node at once");
  node_remove->add_option("fqdn", a.name)->required();
  auto* node_rekey = node->add_subcommand(
      "rekey", "give a node a new key and write its config file (the old key is refused at once "
               "unless --grace is given)");
  node_rekey->add_option("fqdn", a.name)->required();
  node_rekey->add_option("-o,--out", a.out, "where to write the node's config ('-': stdout)");
  auto* node_grace = node_rekey->add_option("--grace", a.grace,
                         "keep taking the old key this long (90s, 15m, 12h, 7d; at most 30d), or "
                         "until the node first uses the new one");

  auto* relay = app.add_subcommand("relay", "enroll, list, show, rekey or remove relay servers");
  relay->require_subcommand(1);
  auto* relay_add = relay->add_subcommand("add", "enroll a relay and write its config file");
  relay_add->add_option("name", a.name)->required();
  relay_add->add_option("-o,--out", a.out, "where to write the relay's config ('-': stdout)");
  auto* relay_list = relay->add_subcommand("list", "list relays");
  auto* relay_show = relay->add_subcommand("show", "show one relay");
  relay_show->add_option("name", a.name)->required();
  auto* relay_remove = relay->add_subcommand("remove", "revoke a relay at once");
  relay_remove->add_option("name", a.name)->required();
  auto* relay_rekey = relay->add_subcommand(
      "rekey", "give a relay a new key and write its config file (the old key is refused at once "
               "unless --grace is given)");
  relay_rekey->add_option("name", a.name)->required();
  relay_rekey->add_option("-o,--out", a.out, "where to write the relay's config ('-': stdout)");
  auto* relay_grace = relay_rekey->add_option("--grace", a.grace,
                          "keep taking the old key this long (90s, 15m, 12h, 7d; at most 30d), or "
                          "until the relay first uses the new one");

  CLI11_PARSE(app, argc, argv);
  std::uint32_t grace_s = 0;
  if (node_grace->count() > 0 || relay_grace->count() > 0) {
    const auto g = enroll::parse_grace(a.grace);
    if (!g) {
      std::fprintf(stderr,
                   "ntm-dc: --grace: '%s' is not a duration from 1s to 30d (e.g. 90s, 15m, 12h, "
                   "7d)\n",
                   a.grace.c_str());
      return 2;
    }
    grace_s = *g;
  }

  config::Config cfg;
  try {
    cfg = config::load(a.config_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntm-dc: %s\n", e.what());
    return 2;
  }
  if (!a.log_level.empty()) cfg.log_level = a.log_level;
  if (!ntm::common::init_logging("ntm-dc", cfg.log_level)) {
    std::fprintf(stderr, "ntm-dc: unknown log level '%s'\n", cfg.log_level.c_str());
    return 2;
  }

  try {
    if (*serve_cmd) return serve(cfg);
    if (*migrate_cmd) {
      Database db(cfg, Database::Role::command);
      std::printf("%s\n", migrate_database(db.url()).c_str());
      return 0;
    }
    const bool is_relay = relay->parsed();
    if (*node_add || *relay_add)
      return enrollment(cfg, [&](store::Store& s) {
        std::string text;
        const auto e = is_relay ? enroll::add_relay(s, cfg, a.name, a.out, &text)
                                : enroll::add_node(s, cfg, a.name, a.out, &text);
        if (a.out == "-") {
          std::fputs(text.c_str(), stdout);
        } else {
          std::printf("enrolled %s %s", is_relay ? "relay" : "node", e.name.c_str());
          if (!is_relay) std::printf(" vip %s", ntm::wire::Vip{e.vip}.to_string().c_str());
          std::printf(" id %s\nconfig written to %s\n", e.id.to_hex().c_str(),
                      e.config_file.c_str());
        }
      });
    if (*node_list || *relay_list)
      return enrollment(cfg, [&](store::Store& s) { enroll::list(s, is_relay, std::cout); });
    if (*node_show || *relay_show)
      return enrollment(cfg, [&](store::Store& s) { enroll::show(s, a.name, is_relay, std::cout); });
    if (*node_rekey || *relay_rekey)
      return enrollment(cfg, [&](store::Store& s) {
        std::string text;
        const auto e = enroll::rekey(s, cfg, a.name, is_relay, a.out, &text, grace_s);
        if (a.out == "-") {
          std::fputs(text.c_str(), stdout);
        } else {
          std::printf("rekeyed %s %s: key epoch %d\nconfig written to %s\n",
                      is_relay ? "relay" : "node", e.name.c_str(), static_cast<int>(e.key_epoch),
                      e.config_file.c_str());
          if (grace_s)
            std::printf("the old key is taken for %u s more, or until the %s uses the new one\n",
                        grace_s, is_relay ? "relay" : "node");
          else
            std::printf("the old key is refused from now on\n");
        }
      });
    if (*node_remove || *relay_remove)
      return enrollment(cfg, [&](store::Store& s) {
        enroll::remove(s, a.name, is_relay);
        std::printf("removed %s %s\n", is_relay ? "relay" : "node", a.name.c_str());
      });
  } catch (const enroll::EnrollError& e) {
    std::fprintf(stderr, "ntm-dc: %s\n", e.what());
    return 1;
  } catch (const ntm::dc::store::SchemaTooNew& e) {
    spdlog::error("{}", e.what());
    return 3;
  } catch (const std::exception& e) {
    spdlog::error("fatal: {}", e.what());
    return 1;
  }
  return 0;
}
