// SPDX-License-Identifier: MIT
#include "config.hpp"

#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ntm/common/dc_members.hpp"
#include "ntm/common/udp_socket.hpp"

namespace ntm::relay {

namespace {

using Section = std::map<std::string, std::string>;
using Ini = std::map<std::string, Section>;

// Every section and key ntm-rs reads.
const std::map<std::string, std::set<std::string>>& known() {
  static const std::map<std::string, std::set<std::string>> k{
      {"relay", {"id", "name", "key", "key_epoch"}},
      {"dc", {"id", "endpoint", "endpoints", "probe"}},
      {"rs", {"listen", "advertise", "tun", "virtual_range", "max_paths", "translate",
              "kernel_forward", "status_socket", "log_level"}},
  };
  return k;
}

[[noreturn]] void fail(const std::string& section, const std::string& key,
                       const std::string& what) {
  throw ConfigError("[" + section + "] " + key + ": " + what);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

Ini parse_ini(const std::string& text) {
  Ini ini;
  std::istringstream in(text);
  std::string raw, section;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == ';' || line[0] == '#') continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line[0] == '[') {
      if (line.back() != ']') throw ConfigError(where + "unterminated section header");
      section = trim(line.substr(1, line.size() - 2));
      if (!known().contains(section)) throw ConfigError("[" + section + "]: unknown section");
      ini[section];
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw ConfigError(where + "expected key = value");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (section.empty()) throw ConfigError("key '" + key + "' is outside any [section]");
    if (!known().at(section).contains(key)) fail(section, key, "unknown key");
    if (ini[section].contains(key)) fail(section, key, "given twice");
    ini[section][key] = value;
  }
  return ini;
}

const std::string* get(const Ini& ini, const std::string& s, const std::string& k) {
  const auto si = ini.find(s);
  if (si == ini.end()) return nullptr;
  const auto ki = si->second.find(k);
  return ki == si->second.end() ? nullptr : &ki->second;
}

const std::string& require(const Ini& ini, const std::string& s, const std::string& k) {
  const std::string* v = get(ini, s, k);
  if (!v) fail(s, k, "missing");
  return *v;
}

std::uint32_t number(const std::string& s, const std::string& k, const std::string& text,
                     std::uint32_t lo, std::uint32_t hi) {
  std::uint32_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    fail(s, k, "must be a decimal number, got '" + text + "'");
  if (v < lo || v > hi)
    fail(s, k, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

wire::Endpoint endpoint(const std::string& s, const std::string& k, const std::string& text) {
  wire::Endpoint e;
  if (!common::parse_endpoint(text, e))
    fail(s, k, "must be address:port or [v6-address]:port, got '" + text + "'");
  return e;
}

bool wildcard(const wire::Endpoint& e) {
  for (std::size_t i = 0; i < (e.addr.family == wire::Family::v6 ? 16u : 4u); ++i)
    if (e.addr.bytes[i]) return false;
  return true;
}

}  // namespace

Config parse_config(const std::string& text) {
  const Ini ini = parse_ini(text);
  Config c;
  if (!wire::NodeId::from_hex(require(ini, "relay", "id"), c.id))
    fail("relay", "id", "must be 32 hex digits");
  c.name = require(ini, "relay", "name");
  wire::Fqdn f;
  if (!wire::Fqdn::canonicalize(c.name, f) || f.name != c.name)
    fail("relay", "name", "must be a canonical domain name, got '" + c.name + "'");
  if (!wire::SecretKey::from_hex(require(ini, "relay", "key"), c.key))
    fail("relay", "key", "must be 64 hex digits");  // never echo a key
  if (const auto* v = get(ini, "relay", "key_epoch"))
    c.key_epoch = static_cast<std::uint8_t>(number("relay", "key_epoch", *v, 0, 255));

  if (const auto* v = get(ini, "dc", "id"))
    if (!wire::DcId::from_hex(*v, c.dc_id)) fail("dc", "id", "must be 32 hex digits");
  c.dc = endpoint("dc", "endpoint", require(ini, "dc", "endpoint"));
  try {
    const auto* v = get(ini, "dc", "endpoints");
    c.dc_members = common::dc_members(v ? *v : std::string(), c.dc);
  } catch (const std::invalid_argument& e) {
    fail("dc", "endpoints", e.what());
  }
  if (const auto* v = get(ini, "dc", "probe")) c.dc_probe = endpoint("dc", "probe", *v);

  c.listen.addr = wire::IpAddr::v4(0);
  c.listen.port = kDefaultPort;
  if (const auto* v = get(ini, "rs", "listen")) c.listen = endpoint("rs", "listen", *v);
  if (const auto* v = get(ini, "rs", "advertise")) {
    c.advertise = endpoint("rs", "advertise", *v);
    if (wildcard(c.advertise) || c.advertise.port == 0)
      fail("rs", "advertise", "must be a concrete address and port, got '" + *v + "'");
  } else {
    if (wildcard(c.listen) || c.listen.port == 0)
      fail("rs", "advertise",
           "missing: required when [rs] listen is a wildcard address or port 0");
    c.advertise = c.listen;
  }
  if (const auto* v = get(ini, "rs", "tun")) {
    if (v->empty() || v->size() > 15) fail("rs", "tun", "must have 1-15 characters");
    c.tun = *v;
  }
  if (const auto* v = get(ini, "rs", "virtual_range")) {
    const auto slash = v->find('/');
    wire::IpAddr a;
    if (slash == std::string::npos || !wire::IpAddr::parse(v->substr(0, slash), a) ||
        a.family != wire::Family::v4)
      fail("rs", "virtual_range", "must be an IPv4 prefix a.b.c.d/len, got '" + *v + "'");
    c.virtual_prefix_len =
        static_cast<std::uint8_t>(number("rs", "virtual_range", v->substr(slash + 1), 1, 32));
    const std::uint32_t addr = (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) |
                               (std::uint32_t{a.bytes[2]} << 8) | a.bytes[3];
    const std::uint32_t mask = ~std::uint32_t{0} << (32 - c.virtual_prefix_len);
    if (addr & ~mask) fail("rs", "virtual_range", "host bits set in '" + *v + "'");
    c.virtual_net = addr;
  }
  if (const auto* v = get(ini, "rs", "max_paths"))
    c.max_paths = number("rs", "max_paths", *v, 1, 1'000'000);
  if (const auto* v = get(ini, "rs", "kernel_forward")) {
    if (*v == "on" || *v == "true" || *v == "yes") c.kernel_forward = true;
    else if (*v == "off" || *v == "false" || *v == "no") c.kernel_forward = false;
    else fail("rs", "kernel_forward", "must be on or off, got '" + *v + "'");
  }
  if (const auto* v = get(ini, "rs", "translate")) {
    if (*v == "on" || *v == "true" || *v == "yes") c.translate = true;
    else if (*v == "off" || *v == "false" || *v == "no") c.translate = false;
    else fail("rs", "translate", "must be on or off, got '" + *v + "'");
  }
  if (const auto* v = get(ini, "rs", "status_socket")) {
    if (v->empty() || (*v)[0] != '/') fail("rs", "status_socket", "must be an absolute path");
    c.status_socket = *v;
  }
  if (const auto* v = get(ini, "rs", "log_level")) c.log_level = *v;
  return c;
}

static std::string read_file(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) throw ConfigError("cannot read " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Config load_config(const std::filesystem::path& path) {
  try {
    return parse_config(read_file(path));
  } catch (const ConfigError& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
}

std::filesystem::path status_socket_of(const std::filesystem::path& path) {
  const Ini ini = parse_ini(read_file(path));
  const std::string* v = get(ini, "rs", "status_socket");
  return v ? std::filesystem::path(*v) : Config{}.status_socket;
}

}  // namespace ntm::relay
