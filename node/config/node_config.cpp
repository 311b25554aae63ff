// SPDX-License-Identifier: MIT
#include "config/node_config.hpp"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <algorithm>
#include <charconv>
#include <fstream>
#include <span>
#include <sstream>

#include "ntm/common/dc_members.hpp"
#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

namespace {

using boost::property_tree::ptree;

constexpr std::string_view kNodeKeys[] = {"id", "fqdn", "key", "key_epoch"};
constexpr std::string_view kDcKeys[] = {"id", "endpoint", "endpoints", "probe"};
constexpr std::string_view kNtmdKeys[] = {"listen",       "tun",         "mtu",  "offload",
                                          "dns_listen",   "dns_upstream", "passthrough",
                                          "tunnel_wait_ms", "status_socket", "path_idle_s"};
struct Section {
  std::string_view name;
  std::span<const std::string_view> keys;
};
constexpr Section kSections[] = {{"node", kNodeKeys}, {"dc", kDcKeys}, {"ntmd", kNtmdKeys}};

[[noreturn]] void fail(std::string_view section, std::string_view key, const std::string& what) {
  throw ConfigError("[" + std::string(section) + "] " + std::string(key) + ": " + what);
}

void reject_unknown(const ptree& root) {
  for (const auto& [name, section] : root) {
    if (section.empty()) throw ConfigError("key '" + name + "' is outside any [section]");
    const Section* known = nullptr;
    for (const auto& s : kSections)
      if (s.name == name) known = &s;
    if (!known) throw ConfigError("[" + name + "]: unknown section");
    for (const auto& [key, v] : section) {
      bool ok = false;
      for (auto k : known->keys) ok = ok || k == key;
      if (!ok) fail(name, key, "unknown key");
    }
  }
}

std::string get(const ptree& root, const char* section, const char* key) {
  const auto s = root.get_child_optional(section);
  if (!s) return {};
  return s->get<std::string>(key, "");
}

std::string require(const ptree& root, const char* section, const char* key) {
  auto v = get(root, section, key);
  if (v.empty()) fail(section, key, "required");
  return v;
}

wire::Endpoint endpoint(const ptree& root, const char* section, const char* key,
                        const char* fallback) {
  auto v = get(root, section, key);
  if (v.empty()) v = fallback;
  wire::Endpoint e;
  if (v.empty()) return e;
  if (!common::parse_endpoint(v, e)) fail(section, key, "not ADDRESS:PORT: " + v);
  return e;
}

std::uint64_t number(const ptree& root, const char* section, const char* key, std::uint64_t def,
                     std::uint64_t lo, std::uint64_t hi) {
  const auto v = get(root, section, key);
  if (v.empty()) return def;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size()) fail(section, key, "not a number: " + v);
  if (n < lo || n > hi)
    fail(section, key, "out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return n;
}

}  // namespace

NodeConfig parse_node_config(const std::string& text) {
  ptree root;
  try {
    std::istringstream in(text);
    boost::property_tree::ini_parser::read_ini(in, root);
  } catch (const boost::property_tree::ini_parser_error& e) {
    throw ConfigError(std::string("not an INI file: ") + e.message() + " at line " +
                      std::to_string(e.line()));
  }
  reject_unknown(root);
  NodeConfig c;
  if (!wire::NodeId::from_hex(require(root, "node", "id"), c.id) || c.id.is_zero())
    fail("node", "id", "not 32 hex digits");
  if (!wire::Fqdn::canonicalize(require(root, "node", "fqdn"), c.fqdn))
    fail("node", "fqdn", "not a domain name");
  if (!wire::SecretKey::from_hex(require(root, "node", "key"), c.key))
    fail("node", "key", "not 64 hex digits");
  c.key_epoch = static_cast<std::uint8_t>(number(root, "node", "key_epoch", 0, 0, 255));
  c.dc = endpoint(root, "dc", "endpoint", "");
  if (c.dc.empty()) fail("dc", "endpoint", "required");
  c.probe = endpoint(root, "dc", "probe", "");
  try {
    c.dc_members = common::dc_members(get(root, "dc", "endpoints"), c.dc);
  } catch (const std::invalid_argument& e) {
    fail("dc", "endpoints", e.what());
  }
  c.listen = endpoint(root, "ntmd", "listen", "0.0.0.0:4520");
  if (auto t = get(root, "ntmd", "tun"); !t.empty()) {
    if (t.size() > 15) fail("ntmd", "tun", "longer than 15 characters");
    c.tun = t;
  }
  c.mtu = static_cast<int>(number(root, "ntmd", "mtu", 1400, 576, 1404));
  if (auto o = get(root, "ntmd", "offload"); !o.empty()) {
    if (o == "on" || o == "true" || o == "yes") c.offload = true;
    else if (o == "off" || o == "false" || o == "no") c.offload = false;
    else fail("ntmd", "offload", "not on or off: " + o);
  }
  c.dns_listen = endpoint(root, "ntmd", "dns_listen", "127.0.0.53:53");
  c.dns_upstream = endpoint(root, "ntmd", "dns_upstream", "");
  std::istringstream domains(get(root, "ntmd", "passthrough"));
  for (std::string d; std::getline(domains, d, ',');) {
    d.erase(0, d.find_first_not_of(" \t"));
    d.erase(d.find_last_not_of(" \t") + 1);
    if (d.empty()) continue;
    wire::Fqdn f;
    if (!wire::Fqdn::canonicalize(d, f)) fail("ntmd", "passthrough", "not a domain: " + d);
    c.passthrough.push_back(f.name);
  }
  c.tunnel_wait_ms =
      static_cast<std::uint32_t>(number(root, "ntmd", "tunnel_wait_ms", 5000, 100, 60000));
  c.path_idle_s =
      static_cast<std::uint32_t>(number(root, "ntmd", "path_idle_s", 600, 0, 7 * 86400));
  if (auto s = get(root, "ntmd", "status_socket"); !s.empty()) c.status_socket = s;
  return c;
}

NodeConfig load_node_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return parse_node_config(s.str());
}

wire::Endpoint upstream_from_resolv_conf(const std::string& text, const wire::Endpoint& self) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kw, addr;
    if (!(words >> kw >> addr) || kw != "nameserver") continue;
    wire::Endpoint e;
    if (!wire::IpAddr::parse(addr, e.addr)) continue;
    e.port = 53;
    if (e.addr == self.addr) continue;
    return e;
  }
  return {};
}

}  // namespace ntm::node
