// SPDX-License-Identifier: MIT
// Loads and validates ntm-dc's INI file.  Everything is checked here, at
// start, so that a wrong value stops the daemon with a message naming the
// key instead of surfacing later as a puzzling runtime failure.
#include "config/config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <charconv>
#include <optional>
#include <span>
#include <sstream>
#include <system_error>

#include "ntm/common/udp_socket.hpp"

namespace ntm::dc::config {

namespace {

using boost::property_tree::ptree;

std::uint32_t prefix_mask(unsigned length) noexcept {
  // A shift by 32 is undefined, so /0 is special-cased.
  return length == 0 ? 0u : ~std::uint32_t{0} << (32 - length);
}

// Every section and key the daemon reads.  Anything else is rejected: a
// misspelt key would otherwise be ignored and its default silently used.
constexpr std::string_view kDcKeys[] = {"id",           "zones",     "listen",          "advertise",
                                        "probe_listen", "state_dir", "node_config_dir", "cluster"};
constexpr std::string_view kDatabaseKeys[] = {"url", "embedded_port", "group_commit_max",
                                              "group_commit_linger_ms"};
constexpr std::string_view kVipKeys[] = {"pool", "route_prefix_len", "general_pool",
                                         "substitute_pool", "general_hold_s"};
constexpr std::string_view kTimersKeys[] = {"keepalive_s", "lifetime_s", "direction_timeout_ms",
                                            "retransmit_initial_ms", "max_skew_s", "path_rekey_s"};
constexpr std::string_view kRouteKeys[] = {"same_network_prefix_len", "relay_idle_timeout_s",
                                           "standby_relay"};
constexpr std::string_view kLogKeys[] = {"level", "stats_interval_s"};
constexpr std::string_view kLimitsKeys[] = {"rate_per_node", "rate_per_peer"};
constexpr std::string_view kDnsKeys[] = {"socket",           "socket_mode",        "nameservers",
                                         "ns_addresses",     "hostmaster",         "nat_address",
                                         "prompt_interval_ms", "max_connections", "request_timeout_ms",
                                         "node_ttl_s"};

constexpr std::string_view kFederationKeys[] = {"resolver",        "dns_timeout_ms",
                                                "dns_tries",       "dns_cache_size",
                                                "peer_timeout_ms", "peer_retransmit_ms",
                                                "ca_file",         "cert_file",
                                                "pin_dns",         "max_cert_peers"};
// One [peer.NAME] section per federated DC.
constexpr std::string_view kPeerPrefix = "peer.";
constexpr std::string_view kPeerKeys[] = {"dc_id", "key", "key_file", "key_epoch", "zones",
                                          "endpoints"};

struct KnownSection {
  std::string_view name;
  std::span<const std::string_view> keys;
};
constexpr KnownSection kSections[] = {
    {"dc", kDcKeys},         {"database", kDatabaseKeys}, {"vip", kVipKeys},
    {"timers", kTimersKeys}, {"route", kRouteKeys},       {"log", kLogKeys},
    {"limits", kLimitsKeys}, {"dns", kDnsKeys},           {"federation", kFederationKeys},
};
constexpr KnownSection kPeerSection{"peer.NAME", kPeerKeys};

constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

[[noreturn]] void fail(std::string_view section, std::string_view key, const std::string& what) {
  std::string msg = "[";
  msg.append(section).append("] ").append(key).append(": ").append(what);
  throw ConfigError(msg);
}

bool known_key(const KnownSection& s, std::string_view key) {
  for (auto k : s.keys)
    if (k == key) return true;
  return false;
}

void reject_unknown(const ptree& root) {
  for (const auto& [name, section] : root) {
    // ini_parser drops empty sections, so a childless top-level entry is a
    // key written before the first section header.
    if (section.empty()) throw ConfigError("key '" + name + "' is outside any [section]");
    const KnownSection* known = nullptr;
    for (const auto& s : kSections)
      if (s.name == name) known = &s;
    if (name.starts_with(kPeerPrefix)) known = &kPeerSection;
    if (!known) throw ConfigError("[" + name + "]: unknown section");
    for (const auto& kv : section)
      if (!known_key(*known, kv.first)) fail(name, kv.first, "unknown key");
  }
}

// A key's value, or nullopt when the key is absent.  An empty value counts as
// absent, so "key =" in a file means "use the default" (the example file
// relies on that for the optional keys).
std::optional<std::string> get(const ptree& root, std::string_view section, std::string_view key) {
  // find() matches one level by name; get_child() would interpret '.' as a
  // path separator.
  const auto s = root.find(std::string(section));
  if (s == root.not_found()) return std::nullopt;
  const auto k = s->second.find(std::string(key));
  if (k == s->second.not_found() || k->second.data().empty()) return std::nullopt;
  return k->second.data();
}

// Strict decimal: no sign, no spaces, no trailing text, no hex.
unsigned to_number(std::string_view section, std::string_view key, const std::string& text,
                   unsigned lo, unsigned hi) {
  unsigned long long v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc::invalid_argument || ptr != end)
    fail(section, key, "must be a decimal number, got '" + text + "'");
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    fail(section, key,
         "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + text);
  return static_cast<unsigned>(v);
}

unsigned number(const ptree& root, std::string_view section, std::string_view key, unsigned def,
                unsigned lo, unsigned hi) {
  const auto v = get(root, section, key);
  return v ? to_number(section, key, *v, lo, hi) : def;
}

wire::Endpoint endpoint(std::string_view section, std::string_view key, const std::string& text) {
  wire::Endpoint e;
  if (!common::parse_endpoint(text, e))
    fail(section, key, "must be address:port or [v6-address]:port, got '" + text + "'");
  return e;
}

bool is_wildcard(const wire::IpAddr& a) {
  const std::size_t n = a.family == wire::Family::v4 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i)
    if (a.bytes[i]) return false;
  return a.family != wire::Family::none;
}

std::filesystem::path absolute_path(std::string_view section, std::string_view key,
                                    const std::string& text) {
  // The daemon's working directory is not part of its configuration (under
  // systemd it is "/"), so a relative path would be an accident.
  std::filesystem::path p(text);
  if (!p.is_absolute()) fail(section, key, "must be an absolute path, got '" + text + "'");
  return p;
}

// A comma-separated list, each entry trimmed; an empty entry is an error.
std::vector<std::string> split_list(std::string_view section, std::string_view key,
                                    std::string_view rest) {
  std::vector<std::string> items;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty()) fail(section, key, "empty entry in the comma-separated list");
    items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return items;
}

// A list of domain names, canonical, without duplicates.
std::vector<std::string> parse_names(std::string_view section, std::string_view key,
                                     const std::string& text, std::string_view what) {
  std::vector<std::string> names;
  for (const auto& item : split_list(section, key, text)) {
    wire::Fqdn z;
    if (!wire::Fqdn::canonicalize(item, z))
      fail(section, key, "'" + item + "' is not a valid domain name");
    // Compared after canonicalisation: "Example.com." and "example.com" are
    // the same name.
    for (const auto& seen : names)
      if (seen == z.name) fail(section, key, "duplicate " + std::string(what) + " '" + z.name + "'");
    names.push_back(std::move(z.name));
  }
  return names;
}

std::uint32_t ipv4(std::string_view section, std::string_view key, const std::string& text) {
  wire::IpAddr a;
  if (!wire::IpAddr::parse(text, a) || a.family != wire::Family::v4)
    fail(section, key, "must be an IPv4 address, got '" + text + "'");
  return a.v4_host_order();
}

void parse_dns(const ptree& root, Config& c) {
  auto& d = c.dns;
  if (const auto s = get(root, "dns", "socket")) d.socket = absolute_path("dns", "socket", *s);
  if (const auto m = get(root, "dns", "socket_mode")) {
    unsigned mode = 0;
    auto [p, ec] = std::from_chars(m->data(), m->data() + m->size(), mode, 8);
    if (ec != std::errc() || p != m->data() + m->size() || mode > 0777)
      fail("dns", "socket_mode", "must be an octal file mode such as 0660, got '" + *m + "'");
    d.socket_mode = mode;
  }
  if (const auto ns = get(root, "dns", "nameservers"))
    d.nameservers = parse_names("dns", "nameservers", *ns, "nameserver");
  if (const auto glue = get(root, "dns", "ns_addresses")) {
    for (const auto& item : split_list("dns", "ns_addresses", *glue)) {
      const auto eq = item.find('=');
      if (eq == std::string::npos)
        fail("dns", "ns_addresses", "entries are NAME=IPV4, got '" + item + "'");
      wire::Fqdn n;
      if (!wire::Fqdn::canonicalize(item.substr(0, eq), n))
        fail("dns", "ns_addresses", "'" + item.substr(0, eq) + "' is not a valid domain name");
      d.ns_addresses.emplace_back(n.name, ipv4("dns", "ns_addresses", item.substr(eq + 1)));
    }
  }
  if (const auto h = get(root, "dns", "hostmaster")) {
    wire::Fqdn n;
    if (!wire::Fqdn::canonicalize(*h, n))
      fail("dns", "hostmaster", "must be a domain name (hostmaster.example.com for "
                                "hostmaster@example.com), got '" + *h + "'");
    d.hostmaster = n.name;
  }
  if (const auto a = get(root, "dns", "nat_address")) d.nat_address = ipv4("dns", "nat_address", *a);
  d.prompt_interval_ms = number(root, "dns", "prompt_interval_ms", d.prompt_interval_ms, 0, 3600000);
  d.max_connections = number(root, "dns", "max_connections", d.max_connections, 1, 10000);
  d.request_timeout_ms =
      number(root, "dns", "request_timeout_ms", d.request_timeout_ms, 100, 600000);
  d.node_ttl_s = number(root, "dns", "node_ttl_s", d.node_ttl_s, 0, 86400);
  // Serving DNS needs NS records: pdns cannot answer for a zone without them.
  if (!d.socket.empty() && d.nameservers.empty())
    fail("dns", "nameservers", "required when socket is set (the zones' NS records)");
}

// 64 hex digits from a key file (surrounding whitespace allowed); the key
// itself never goes into an error message.
wire::SecretKey read_key_file(const std::string& section, const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail(section, "key_file", "cannot read " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto b = text.find_first_not_of(" \t\r\n");
  const auto e = text.find_last_not_of(" \t\r\n");
  wire::SecretKey k;
  if (b == std::string::npos || !wire::SecretKey::from_hex(text.substr(b, e - b + 1), k))
    fail(section, "key_file", path.string() + " must hold exactly 64 hex digits");
  return k;
}

bool zones_overlap(const std::string& a, const std::string& b) {
  auto under = [](const std::string& n, const std::string& z) {
    return n == z || (n.size() > z.size() && n.ends_with(z) && n[n.size() - z.size() - 1] == '.');
  };
  return under(a, b) || under(b, a);
}

void parse_federation(const ptree& root, Config& c) {
  auto& f = c.federation;
  f.enabled = root.find("federation") != root.not_found();
  if (const auto r = get(root, "federation", "resolver")) {
    f.resolver = endpoint("federation", "resolver", *r);
    if (is_wildcard(f.resolver.addr) || f.resolver.port == 0)
      fail("federation", "resolver", "must be the address:port of a DNS resolver");
  }
  f.dns_timeout_ms = number(root, "federation", "dns_timeout_ms", f.dns_timeout_ms, 10, 10000);
  f.dns_tries = number(root, "federation", "dns_tries", f.dns_tries, 1, 10);
  f.dns_cache_size = number(root, "federation", "dns_cache_size", f.dns_cache_size, 0, 1000000);
  f.peer_timeout_ms = number(root, "federation", "peer_timeout_ms", f.peer_timeout_ms, 50, 60000);
  f.peer_retransmit_ms =
      number(root, "federation", "peer_retransmit_ms", f.peer_retransmit_ms, 10, 60000);
  if (f.peer_retransmit_ms > f.peer_timeout_ms)
    fail("federation", "peer_retransmit_ms", "must not exceed peer_timeout_ms");
  // Certificates (docs/federation.md §8): both files or neither.  The
  // files are read and checked when the server starts.
  const auto ca = get(root, "federation", "ca_file");
  const auto cert = get(root, "federation", "cert_file");
  if (ca.has_value() != cert.has_value())
    fail("federation", ca ? "cert_file" : "ca_file",
         "ca_file and cert_file go together (the CA that issues peer DCs' certificates, and "
         "this DC's own certificate for its dc-key.pem)");
  if (ca) {
    f.ca_file = absolute_path("federation", "ca_file", *ca);
    f.cert_file = absolute_path("federation", "cert_file", *cert);
  }
  if (const auto pin = get(root, "federation", "pin_dns")) {
    if (*pin == "on") f.pin_dns = true;
    else if (*pin == "off") f.pin_dns = false;
    else fail("federation", "pin_dns", "must be on or off, got '" + *pin + "'");
  }
  f.max_cert_peers = number(root, "federation", "max_cert_peers", f.max_cert_peers, 1, 100000);
  for (const auto& [section, body] : root) {
    if (!section.starts_with(kPeerPrefix)) continue;
    f.enabled = true;
    Config::Peer p;
    p.name = section.substr(kPeerPrefix.size());
    if (p.name.empty()) throw ConfigError("[" + section + "]: the peer needs a name ([peer.NAME])");
    const auto id = get(root, section, "dc_id");
    if (!id) fail(section, "dc_id", "required (the peer DC's [dc] id, 32 hex digits)");
    if (!wire::DcId::from_hex(*id, p.dc_id) || p.dc_id.is_zero())
      fail(section, "dc_id", "must be exactly 32 hex digits, not all zero");
    // The two directions of a DC_PEER channel differ only by the sender's id.
    if (p.dc_id == c.dc_id) fail(section, "dc_id", "must differ from this DC's own [dc] id");
    for (const auto& o : c.peers)
      if (o.dc_id == p.dc_id) fail(section, "dc_id", "same as [peer." + o.name + "]");
    const auto key = get(root, section, "key");
    const auto key_file = get(root, section, "key_file");
    if (key && key_file) fail(section, "key", "give key or key_file, not both");
    if (key) {
      if (!wire::SecretKey::from_hex(*key, p.key)) fail(section, "key", "must be exactly 64 hex digits");
    } else if (key_file) {
      p.key = read_key_file(section, absolute_path(section, "key_file", *key_file));
    } else {
      fail(section, "key", "required (the shared DC-to-DC key, 64 hex digits), or key_file");
    }
    p.key_epoch = static_cast<std::uint8_t>(number(root, section, "key_epoch", 0, 0, 255));
    const auto zones = get(root, section, "zones");
    if (!zones) fail(section, "zones", "required (the zones this peer may answer for)");
    p.zones = parse_names(section, "zones", *zones, "zone");
    for (const auto& z : p.zones) {
      for (const auto& mine : c.zones)
        if (zones_overlap(z, mine)) fail(section, "zones", "'" + z + "' overlaps our zone '" + mine + "'");
      for (const auto& o : c.peers)
        for (const auto& oz : o.zones)
          if (zones_overlap(z, oz))
            fail(section, "zones", "'" + z + "' overlaps '" + oz + "' of [peer." + o.name + "]");
    }
    if (const auto eps = get(root, section, "endpoints"))
      for (const auto& e : split_list(section, "endpoints", *eps)) {
        p.endpoints.push_back(endpoint(section, "endpoints", e));
        if (is_wildcard(p.endpoints.back().addr) || p.endpoints.back().port == 0)
          fail(section, "endpoints", "'" + e + "' is not an address a DC can be reached at");
      }
    c.peers.push_back(std::move(p));
  }
}

// True if `key` appears as a conninfo keyword ("key=" or "key =") at the
// start of the string or after whitespace.
bool has_conninfo_key(std::string_view s, std::string_view key) {
  for (auto pos = s.find(key); pos != std::string_view::npos; pos = s.find(key, pos + 1)) {
    if (pos != 0 && s[pos - 1] != ' ' && s[pos - 1] != '\t') continue;
    auto after = pos + key.size();
    while (after < s.size() && (s[after] == ' ' || s[after] == '\t')) ++after;
    if (after < s.size() && s[after] == '=') return true;
  }
  return false;
}

bool valid_database_url(std::string_view url) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return true;
  return has_conninfo_key(url, "dbname") || has_conninfo_key(url, "host");
}

ptree read_tree(std::string_view ini_text) {
  std::istringstream in{std::string(ini_text)};
  ptree root;
  try {
    boost::property_tree::ini_parser::read_ini(in, root);
  } catch (const boost::property_tree::ini_parser_error& e) {
    // e.what() would include an empty file name; the line is what helps.
    throw ConfigError("line " + std::to_string(e.line()) + ": " + e.message());
  }
  return root;
}

}  // namespace

std::uint32_t Ipv4Prefix::size() const noexcept {
  if (length == 0) return ~std::uint32_t{0};
  if (length >= 32) return 1;
  return std::uint32_t{1} << (32 - length);
}

bool Ipv4Prefix::contains(std::uint32_t addr) const noexcept {
  if (length > 32) return false;
  const std::uint32_t mask = prefix_mask(length);
  return (addr & mask) == (network & mask);
}

std::string Ipv4Prefix::to_string() const {
  return wire::IpAddr::v4(network).to_string() + "/" + std::to_string(length);
}

bool Ipv4Prefix::parse(std::string_view text, Ipv4Prefix& out) {
  // Host bits are kept as written so that the caller can tell "10.0.0.1/8"
  // (probably a typo) from "10.0.0.0/8" and reject it with a clear message.
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  wire::IpAddr a;
  if (!wire::IpAddr::parse(text.substr(0, slash), a) || a.family != wire::Family::v4) return false;
  const std::string_view len = text.substr(slash + 1);
  unsigned n = 0;
  const auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() || n > 32) return false;
  out.network = a.v4_host_order();
  out.length = n;
  return true;
}

Config parse(std::string_view ini_text) {
  const ptree root = read_tree(ini_text);
  reject_unknown(root);
  Config c;

  // [dc]
  const auto id = get(root, "dc", "id");
  if (!id) fail("dc", "id", "required (32 hex digits identifying this DC)");
  if (!wire::DcId::from_hex(*id, c.dc_id)) fail("dc", "id", "must be exactly 32 hex digits");
  // The zero ID is what an unset field looks like on the wire.
  if (c.dc_id.is_zero()) fail("dc", "id", "must not be all zero");

  const auto zones = get(root, "dc", "zones");
  if (!zones) fail("dc", "zones", "required (comma-separated domain names this DC serves)");
  c.zones = parse_names("dc", "zones", *zones, "zone");

  const auto listen = get(root, "dc", "listen");
  c.listen = endpoint("dc", "listen", listen.value_or("0.0.0.0:4510"));

  if (const auto advertise = get(root, "dc", "advertise")) {
    c.advertise = endpoint("dc", "advertise", *advertise);
    // Nodes send to this address; 0.0.0.0 or :: reaches nobody.
    if (is_wildcard(c.advertise.addr))
      fail("dc", "advertise", "must be an address nodes can reach, not a wildcard");
  } else if (is_wildcard(c.listen.addr)) {
    // Which of the host's addresses nodes can reach is not something the
    // daemon can guess.
    fail("dc", "advertise", "advertise required when listen is a wildcard");
  } else {
    c.advertise = c.listen;
  }

  if (const auto probe = get(root, "dc", "probe_listen")) {
    c.probe_listen = endpoint("dc", "probe_listen", *probe);
    // The probe socket exists to be a different port; the same endpoint
    // would also fail to bind.
    if (c.probe_listen.port != 0 && c.probe_listen == c.listen)
      fail("dc", "probe_listen", "must differ from listen");
  }

  // The cluster (docs/operations.md "DC cluster"): every member's advertise
  // endpoint, written into node files so that a node can fail over.  This
  // member must be in it, or its own nodes would not know it.
  if (const auto cluster = get(root, "dc", "cluster")) {
    for (const auto& item : split_list("dc", "cluster", *cluster)) {
      const wire::Endpoint e = endpoint("dc", "cluster", item);
      if (is_wildcard(e.addr) || e.port == 0)
        fail("dc", "cluster", "'" + item + "' must be an address:port nodes can reach");
      if (std::find(c.cluster.begin(), c.cluster.end(), e) != c.cluster.end())
        fail("dc", "cluster", "'" + item + "' listed twice");
      c.cluster.push_back(e);
    }
    if (std::find(c.cluster.begin(), c.cluster.end(), c.advertise) == c.cluster.end())
      fail("dc", "cluster",
           "must include this member's advertise endpoint (" + c.advertise.to_string() + ")");
    if (c.cluster.size() > 8) fail("dc", "cluster", "at most 8 members");
  } else {
    c.cluster.push_back(c.advertise);
  }

  const auto state_dir = get(root, "dc", "state_dir");
  if (!state_dir) fail("dc", "state_dir", "required (absolute path of the DC's state directory)");
  c.state_dir = absolute_path("dc", "state_dir", *state_dir);
  const auto node_dir = get(root, "dc", "node_config_dir");
  c.node_config_dir =
      node_dir ? absolute_path("dc", "node_config_dir", *node_dir) : c.state_dir / "nodes";

  // [database]
  if (const auto url = get(root, "database", "url")) {
    // The value is not echoed: a URL may carry a password.
    if (!valid_database_url(*url))
      fail("database", "url",
           "must be a postgresql:// or postgres:// URL or a key=value conninfo with dbname= or "
           "host=");
    c.database_url = *url;
  }
  c.embedded_port = number(root, "database", "embedded_port", c.embedded_port, 0, 65535);
  c.group_commit_max = number(root, "database", "group_commit_max", c.group_commit_max, 1, 10000);
  c.group_commit_linger_ms =
      number(root, "database", "group_commit_linger_ms", c.group_commit_linger_ms, 0, 1000);

  // [vip]
  if (const auto pool = get(root, "vip", "pool")) {
    if (!Ipv4Prefix::parse(*pool, c.vip_pool))
      fail("vip", "pool", "must be an IPv4 prefix such as 100.64.0.0/16, got '" + *pool + "'");
    const Ipv4Prefix masked{c.vip_pool.network & prefix_mask(c.vip_pool.length), c.vip_pool.length};
    if (masked.network != c.vip_pool.network)
      fail("vip", "pool", "host bits must be zero (did you mean " + masked.to_string() + "?)");
    // Below /8 the pool would swallow real address space; above /30 it has
    // no room for nodes.
    if (c.vip_pool.length < 8 || c.vip_pool.length > 30)
      fail("vip", "pool",
           "prefix length must be between 8 and 30, got " + std::to_string(c.vip_pool.length));
  } else {
    c.vip_pool = Ipv4Prefix{0x64400000u, 16};  // 100.64.0.0/16
  }
  const bool route_set = get(root, "vip", "route_prefix_len").has_value();
  c.vip_prefix_len = number(root, "vip", "route_prefix_len", c.vip_prefix_len, 1, 32);
  // Nodes route the /route_prefix_len around the pool into the tunnel, so it
  // must cover every VIP the pool can hand out.
  if (c.vip_prefix_len > c.vip_pool.length)
    fail("vip", "route_prefix_len",
         std::to_string(c.vip_prefix_len) + (route_set ? "" : " (default)") +
             " must not be longer than the pool's prefix length " +
             std::to_string(c.vip_pool.length) + ", or the pool falls outside the routed range");
  // General hosts get VIPs from their own range, so that an enrollment (which
  // allocates from pool in another process) can never take one of them.
  if (const auto gp = get(root, "vip", "general_pool")) {
    if (!Ipv4Prefix::parse(*gp, c.general_pool))
      fail("vip", "general_pool", "must be an IPv4 prefix such as 100.127.0.0/16, got '" + *gp + "'");
    const Ipv4Prefix masked{c.general_pool.network & prefix_mask(c.general_pool.length),
                            c.general_pool.length};
    if (masked.network != c.general_pool.network)
      fail("vip", "general_pool", "host bits must be zero (did you mean " + masked.to_string() + "?)");
    if (c.general_pool.length < 8 || c.general_pool.length > 30)
      fail("vip", "general_pool", "prefix length must be between 8 and 30, got " +
                                      std::to_string(c.general_pool.length));
  } else {
    c.general_pool = Ipv4Prefix{0x647f0000u, 16};  // 100.127.0.0/16
  }
  {
    const Ipv4Prefix routed{c.vip_pool.network & prefix_mask(c.vip_prefix_len), c.vip_prefix_len};
    if (!routed.contains(c.general_pool.network) ||
        !routed.contains(c.general_pool.network + (c.general_pool.size() - 1)))
      fail("vip", "general_pool",
           c.general_pool.to_string() + " must lie inside the routed range " + routed.to_string());
    if (c.vip_pool.contains(c.general_pool.network) || c.general_pool.contains(c.vip_pool.network))
      fail("vip", "general_pool", c.general_pool.to_string() + " overlaps pool " +
                                      c.vip_pool.to_string());
  }
  // At least 10 min: a member uses a name's address for up to a minute
  // after the database confirmed it without asking again (dc.md §10).
  c.general_hold_s = number(root, "vip", "general_hold_s", c.general_hold_s, 600, 366 * 86400);
  // Substitutes stand for foreign peers whose VIP clashes in a node's view
  // (docs/dc.md "Virtual address clashes"): routed into the tunnel, and never
  // a VIP this DC hands out, so a substitute cannot clash with a later one.
  {
    const bool set = get(root, "vip", "substitute_pool").has_value();
    if (const auto sp = get(root, "vip", "substitute_pool")) {
      if (!Ipv4Prefix::parse(*sp, c.substitute_pool))
        fail("vip", "substitute_pool",
             "must be an IPv4 prefix such as 100.126.0.0/16, got '" + *sp + "'");
      const Ipv4Prefix masked{c.substitute_pool.network & prefix_mask(c.substitute_pool.length),
                              c.substitute_pool.length};
      if (masked.network != c.substitute_pool.network)
        fail("vip", "substitute_pool",
             "host bits must be zero (did you mean " + masked.to_string() + "?)");
      if (c.substitute_pool.length < 8 || c.substitute_pool.length > 30)
        fail("vip", "substitute_pool", "prefix length must be between 8 and 30, got " +
                                           std::to_string(c.substitute_pool.length));
    } else {
      c.substitute_pool = Ipv4Prefix{0x647e0000u, 16};  // 100.126.0.0/16
    }
    const std::string what = c.substitute_pool.to_string() + (set ? "" : " (default)");
    const Ipv4Prefix routed{c.vip_pool.network & prefix_mask(c.vip_prefix_len), c.vip_prefix_len};
    if (!routed.contains(c.substitute_pool.network) ||
        !routed.contains(c.substitute_pool.network + (c.substitute_pool.size() - 1)))
      fail("vip", "substitute_pool", what + " must lie inside the routed range " + routed.to_string());
    auto overlap = [](const Ipv4Prefix& a, const Ipv4Prefix& b) {
      return a.contains(b.network) || b.contains(a.network);
    };
    if (overlap(c.substitute_pool, c.vip_pool))
      fail("vip", "substitute_pool", what + " overlaps pool " + c.vip_pool.to_string());
    if (overlap(c.substitute_pool, c.general_pool))
      fail("vip", "substitute_pool", what + " overlaps general_pool " + c.general_pool.to_string());
  }

  // [timers]
  c.keepalive_s = number(root, "timers", "keepalive_s", c.keepalive_s, 1, 3600);
  // Cross-field limits are checked against defaults too, with "(default)" in
  // the message, because changing one key can invalidate another's default.
  {
    const bool set = get(root, "timers", "lifetime_s").has_value();
    c.lifetime_s = number(root, "timers", "lifetime_s", c.lifetime_s, 1, 86400);
    if (c.lifetime_s <= c.keepalive_s)
      fail("timers", "lifetime_s",
           std::to_string(c.lifetime_s) + (set ? "" : " (default)") +
               " must be greater than keepalive_s (" + std::to_string(c.keepalive_s) +
               "), or nodes go offline between keepalives");
  }
  c.direction_timeout_ms =
      number(root, "timers", "direction_timeout_ms", c.direction_timeout_ms, 100, 60000);
  {
    const bool set = get(root, "timers", "retransmit_initial_ms").has_value();
    c.retransmit_initial_ms =
        number(root, "timers", "retransmit_initial_ms", c.retransmit_initial_ms, 10, 60000);
    if (c.retransmit_initial_ms > c.direction_timeout_ms)
      fail("timers", "retransmit_initial_ms",
           std::to_string(c.retransmit_initial_ms) + (set ? "" : " (default)") +
               " must not exceed direction_timeout_ms (" + std::to_string(c.direction_timeout_ms) +
               ")");
  }
  c.max_skew_s = number(root, "timers", "max_skew_s", c.max_skew_s, 1, 3600);
  c.path_rekey_s = number(root, "timers", "path_rekey_s", c.path_rekey_s, 0, 30 * 86400);
  if (c.path_rekey_s != 0 && c.path_rekey_s < 2)
    fail("timers", "path_rekey_s", "must be 0 (never) or at least 2");

  // [route]
  c.same_network_prefix_len =
      number(root, "route", "same_network_prefix_len", c.same_network_prefix_len, 8, 32);
  c.relay_idle_timeout_s =
      number(root, "route", "relay_idle_timeout_s", c.relay_idle_timeout_s, 10, 86400);
  if (const auto v = get(root, "route", "standby_relay")) {
    if (*v == "on") c.standby_relay = true;
    else if (*v == "off") c.standby_relay = false;
    else fail("route", "standby_relay", "must be on or off, got '" + *v + "'");
  }

  // [log]
  if (const auto level = get(root, "log", "level")) {
    bool ok = false;
    for (auto l : kLogLevels) ok = ok || l == *level;
    if (!ok)
      fail("log", "level",
           "must be one of trace, debug, info, warn, error, off; got '" + *level + "'");
    c.log_level = *level;
  }
  c.stats_interval_s = number(root, "log", "stats_interval_s", c.stats_interval_s, 0, 86400);

  // [limits]
  c.rate_per_node = number(root, "limits", "rate_per_node", c.rate_per_node, 1, 100000);
  c.rate_per_peer = number(root, "limits", "rate_per_peer", c.rate_per_peer, 1, 1000000);

  // [dns]
  parse_dns(root, c);

  // [federation], [peer.NAME]
  parse_federation(root, c);
  return c;
}

Config load(const std::filesystem::path& file) {
  // POSIX I/O rather than ifstream: the error must carry errno's text, which
  // iostreams do not promise to preserve.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw ConfigError("cannot read " + file.string() + ": " +
                      std::generic_category().message(errno));
  // A configuration file is small; the bound stops a mistaken path such as
  // /dev/zero from eating memory.
  constexpr std::size_t kMaxSize = 1 << 20;
  std::string text;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw ConfigError("cannot read " + file.string() + ": " +
                        std::generic_category().message(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxSize) {
      ::close(fd);
      throw ConfigError("cannot read " + file.string() + ": larger than 1 MiB");
    }
  }
  ::close(fd);
  try {
    return parse(text);
  } catch (const ConfigError& e) {
    // Prefix the file so that an operator with several configs knows which.
    throw ConfigError(file.string() + ": " + e.what());
  }
}

}  // namespace ntm::dc::config
