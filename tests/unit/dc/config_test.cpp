// SPDX-License-Identifier: MIT
#include "config/config.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

using ntm::dc::config::Config;
using ntm::dc::config::ConfigError;
using ntm::dc::config::Ipv4Prefix;
using ntm::dc::config::load;
using ntm::dc::config::parse;

namespace {

// The smallest valid file: the three required keys plus the advertise
// address the wildcard default listen makes necessary.
const std::string kMinimal =
    "[dc]\n"
    "id = 0123456789abcdef0123456789abcdef\n"
    "zones = ntm.example.com\n"
    "advertise = 192.0.2.10:4510\n"
    "state_dir = /var/lib/ntm-dc\n";

// The message parse() throws for `text`, or "" if it accepted it.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// kMinimal with extra sections/keys appended (a later [dc] would be a
// duplicate section, so [dc] changes go through with_dc).
std::string with(const std::string& extra) {
  return kMinimal + extra;
}

std::string with_dc(const std::string& dc_lines, bool keep_advertise = true) {
  return "[dc]\n" + dc_lines + (keep_advertise ? "advertise = 192.0.2.10:4510\n" : "") +
         "state_dir = /var/lib/ntm-dc\n";
}
const std::string kIdZones = "id = 0123456789abcdef0123456789abcdef\nzones = ntm.example.com\n";

bool names(const std::string& msg, const std::string& section_key) {
  return msg.find(section_key) != std::string::npos;
}

}  // namespace

TEST_CASE("config: the example file parses and matches the documented defaults") {
  const Config c = load(std::filesystem::path(NTM_SOURCE_DIR) / "deploy/ntm-dc.example.conf");
  CHECK(c.dc_id.to_hex() == "0123456789abcdef0123456789abcdef");
  REQUIRE(c.zones.size() == 1);
  CHECK(c.zones[0] == "ntm.example.com");
  CHECK(c.listen.to_string() == "0.0.0.0:4510");
  CHECK(c.advertise.to_string() == "192.0.2.10:4510");
  CHECK(c.probe_listen.empty());
  CHECK(c.state_dir == "/var/lib/ntm-dc");
  CHECK(c.node_config_dir == "/var/lib/ntm-dc/nodes");
  CHECK(c.database_url.empty());
  // Every value in the example equals the built-in default.
  const Config d = parse(kMinimal);
  CHECK(c.embedded_port == d.embedded_port);
  CHECK(c.group_commit_max == d.group_commit_max);
  CHECK(c.group_commit_linger_ms == d.group_commit_linger_ms);
  CHECK(d.group_commit_linger_ms == 10);
  CHECK(c.vip_pool.to_string() == d.vip_pool.to_string());
  CHECK(c.vip_prefix_len == d.vip_prefix_len);
  CHECK(c.substitute_pool.to_string() == d.substitute_pool.to_string());
  CHECK(d.substitute_pool.to_string() == "100.126.0.0/16");
  CHECK(c.keepalive_s == d.keepalive_s);
  CHECK(c.lifetime_s == d.lifetime_s);
  CHECK(c.direction_timeout_ms == d.direction_timeout_ms);
  CHECK(c.retransmit_initial_ms == d.retransmit_initial_ms);
  CHECK(c.max_skew_s == d.max_skew_s);
  CHECK(c.path_rekey_s == d.path_rekey_s);
  CHECK(c.same_network_prefix_len == d.same_network_prefix_len);
  CHECK(c.relay_idle_timeout_s == d.relay_idle_timeout_s);
  CHECK(c.standby_relay == d.standby_relay);
  CHECK(c.log_level == d.log_level);
  CHECK(c.rate_per_node == d.rate_per_node);
  CHECK(c.rate_per_peer == d.rate_per_peer);
  CHECK(c.dns.socket == d.dns.socket);
  CHECK(c.dns.socket_mode == d.dns.socket_mode);
  CHECK(c.dns.nat_address == d.dns.nat_address);
  CHECK(c.dns.prompt_interval_ms == d.dns.prompt_interval_ms);
  CHECK(c.dns.max_connections == d.dns.max_connections);
  CHECK(c.dns.request_timeout_ms == d.dns.request_timeout_ms);
  CHECK(c.dns.node_ttl_s == d.dns.node_ttl_s);
}

TEST_CASE("config: a minimal file gets the defaults") {
  const Config c = parse(kMinimal);
  CHECK(c.listen.to_string() == "0.0.0.0:4510");
  CHECK(c.probe_listen.empty());
  CHECK(c.node_config_dir == "/var/lib/ntm-dc/nodes");
  CHECK(c.database_url.empty());
  CHECK(c.embedded_port == 0);
  CHECK(c.group_commit_max == 256);
  CHECK(c.vip_pool.to_string() == "100.64.0.0/16");
  CHECK(c.vip_prefix_len == 10);
  CHECK(c.keepalive_s == 15);
  CHECK(c.lifetime_s == 60);
  CHECK(c.direction_timeout_ms == 3000);
  CHECK(c.retransmit_initial_ms == 200);
  CHECK(c.max_skew_s == 60);
  CHECK(c.path_rekey_s == 3600);
  CHECK(c.general_hold_s == 86400);
  CHECK(c.same_network_prefix_len == 24);
  CHECK(c.relay_idle_timeout_s == 300);
  CHECK(c.standby_relay);
  CHECK(c.log_level == "info");
  CHECK(c.stats_interval_s == 300);
  CHECK(c.rate_per_node == 50);
  CHECK(c.rate_per_peer == 5000);
}

TEST_CASE("config: values are read and canonicalised") {
  const Config c = parse(
      "[dc]\n"
      "id = 0123456789ABCDEF0123456789abcdef\n"
      "zones = Example.COM., b.example.org\n"
      "listen = 127.0.0.1:4600\n"
      "probe_listen = 127.0.0.1:4601\n"
      "state_dir = /srv/dc\n"
      "[database]\n"
      "url = postgresql://dc@db/ntm\n"
      "[vip]\n"
      "pool = 10.20.0.0/16\n"
      "route_prefix_len = 8\n"
      "general_pool = 10.127.0.0/16\n"
      "general_hold_s = 3600\n"
      "substitute_pool = 10.126.0.0/16\n"
      "[log]\n"
      "level = debug\n"
      "stats_interval_s = 0\n");
  REQUIRE(c.zones.size() == 2);
  CHECK(c.zones[0] == "example.com");
  CHECK(c.zones[1] == "b.example.org");
  CHECK(c.advertise == c.listen);  // default: listen, allowed since not a wildcard
  CHECK(c.probe_listen.to_string() == "127.0.0.1:4601");
  CHECK(c.node_config_dir == "/srv/dc/nodes");
  CHECK(c.database_url == "postgresql://dc@db/ntm");
  CHECK(c.vip_pool.to_string() == "10.20.0.0/16");
  CHECK(c.vip_prefix_len == 8);
  CHECK(c.general_pool.to_string() == "10.127.0.0/16");
  CHECK(c.general_hold_s == 3600);
  CHECK(c.substitute_pool.to_string() == "10.126.0.0/16");
  CHECK(c.log_level == "debug");
  CHECK(c.stats_interval_s == 0);
  // Both comment markers that ini_parser accepts, and CRLF line ends.
  CHECK(error_of("# hash comment\r\n; semicolon comment\r\n" + kMinimal) == "");
  CHECK(parse(with("[database]\nurl = host=/run/postgresql dbname=ntm\n")).database_url ==
        "host=/run/postgresql dbname=ntm");
  CHECK(parse(with("[database]\nurl = dbname = ntm\n")).database_url == "dbname = ntm");
}

TEST_CASE("config: [dns] is off by default and read when given") {
  const Config d = parse(kMinimal);
  CHECK(d.dns.socket.empty());
  CHECK(d.dns.socket_mode == 0660);
  CHECK(d.dns.nameservers.empty());
  CHECK_FALSE(d.dns.nat_address);
  CHECK(d.dns.prompt_interval_ms == 1000);
  CHECK(d.dns.max_connections == 128);
  CHECK(d.dns.request_timeout_ms == 10000);
  CHECK(d.dns.node_ttl_s == 0);

  const Config c = parse(with(
      "[dns]\nsocket = /run/ntm-dc/pdns.sock\nsocket_mode = 0600\n"
      "nameservers = NS1.ntm.example.com., ns2.other.example\n"
      "ns_addresses = ns1.ntm.example.com=192.0.2.53\nhostmaster = Admin.example.com\n"
      "nat_address = 198.51.100.7\nprompt_interval_ms = 0\nmax_connections = 64\n"
      "request_timeout_ms = 2000\nnode_ttl_s = 5\n"));
  CHECK(c.dns.socket == "/run/ntm-dc/pdns.sock");
  CHECK(c.dns.socket_mode == 0600);
  CHECK(c.dns.nameservers == std::vector<std::string>{"ns1.ntm.example.com", "ns2.other.example"});
  REQUIRE(c.dns.ns_addresses.size() == 1);
  CHECK(c.dns.ns_addresses[0].first == "ns1.ntm.example.com");
  CHECK(c.dns.ns_addresses[0].second == 0xC0000235u);
  CHECK(c.dns.hostmaster == "admin.example.com");
  CHECK(c.dns.nat_address == 0xC6336407u);
  CHECK(c.dns.prompt_interval_ms == 0);
  CHECK(c.dns.max_connections == 64);
  CHECK(c.dns.request_timeout_ms == 2000);
  CHECK(c.dns.node_ttl_s == 5);
}

TEST_CASE("config: [dns] validation names its key") {
  CHECK(names(error_of(with("[dns]\nsocket = /run/x.sock\n")),
              "[dns] nameservers: required when socket is set"));
  CHECK(names(error_of(with("[dns]\nsocket = run/x.sock\nnameservers = ns1.a.example\n")),
              "[dns] socket: must be an absolute path"));
  CHECK(names(error_of(with("[dns]\nsocket_mode = 0999\n")), "[dns] socket_mode: must be an octal"));
  CHECK(names(error_of(with("[dns]\nsocket_mode = 01777\n")), "[dns] socket_mode: must be an octal"));
  CHECK(names(error_of(with("[dns]\nnameservers = a..example\n")), "[dns] nameservers: 'a..example'"));
  CHECK(names(error_of(with("[dns]\nnameservers = a.example, A.example.\n")),
              "[dns] nameservers: duplicate nameserver"));
  CHECK(names(error_of(with("[dns]\nnameservers = a.example,\n")), "[dns] nameservers: empty entry"));
  CHECK(names(error_of(with("[dns]\nns_addresses = ns1.a.example\n")),
              "[dns] ns_addresses: entries are NAME=IPV4"));
  CHECK(names(error_of(with("[dns]\nns_addresses = ns1.a.example=2001:db8::1\n")),
              "[dns] ns_addresses: must be an IPv4 address"));
  CHECK(names(error_of(with("[dns]\nhostmaster = a b\n")), "[dns] hostmaster: must be a domain"));
  CHECK(names(error_of(with("[dns]\nnat_address = 300.1.1.1\n")), "[dns] nat_address: must be an IPv4"));
  CHECK(names(error_of(with("[dns]\nmax_connections = 0\n")), "[dns] max_connections"));
  CHECK(names(error_of(with("[dns]\nrequest_timeout_ms = 5\n")), "[dns] request_timeout_ms"));
  CHECK(names(error_of(with("[dns]\nnode_ttl_s = 86401\n")), "[dns] node_ttl_s"));
  CHECK(names(error_of(with("[dns]\nsockets = /x\n")), "[dns] sockets: unknown key"));
}

TEST_CASE("config: Ipv4Prefix") {
  Ipv4Prefix p;
  REQUIRE(Ipv4Prefix::parse("100.64.0.0/16", p));
  CHECK(p.network == 0x64400000u);
  CHECK(p.length == 16);
  CHECK(p.size() == 65536);
  CHECK(p.contains(0x6440ffffu));
  CHECK_FALSE(p.contains(0x64410000u));
  CHECK(p.to_string() == "100.64.0.0/16");
  REQUIRE(Ipv4Prefix::parse("0.0.0.0/0", p));
  CHECK(p.size() == 0xffffffffu);  // 2^32 capped
  CHECK(p.contains(0xdeadbeefu));
  REQUIRE(Ipv4Prefix::parse("192.0.2.1/32", p));
  CHECK(p.size() == 1);
  CHECK(p.contains(0xc0000201u));
  CHECK_FALSE(p.contains(0xc0000202u));
  for (const char* bad : {"100.64.0.0", "100.64.0.0/", "100.64.0.0/33", "100.64.0.0/+8",
                          "100.64.0.0/8x", "::/0", "100.64.0/16", "/16", "100.64.0.0/ 8"})
    CHECK_MESSAGE(!Ipv4Prefix::parse(bad, p), bad);
}

TEST_CASE("config: each validation rule names its key") {
  // Syntax and structure.
  CHECK(names(error_of(kMinimal + "garbage\n"), "line 6"));
  CHECK(names(error_of("[dc]\nid = 1\nid = 2\n"), "duplicate key"));
  CHECK(names(error_of("stray = 1\n" + kMinimal), "'stray' is outside any [section]"));
  CHECK(names(error_of(with("[dcc]\nid = 1\n")), "[dcc]: unknown section"));
  CHECK(names(error_of(with("[timers]\nkeepalive = 15\n")), "[timers] keepalive: unknown key"));

  // [dc] id
  CHECK(names(error_of("[dc]\nzones = a.example\nadvertise = 192.0.2.1:1\nstate_dir = /x\n"),
              "[dc] id: required"));
  CHECK(names(error_of(with_dc("id = 0123\nzones = a.example\n")), "[dc] id: must be exactly 32"));
  CHECK(names(error_of(with_dc("id = 0123456789abcdef0123456789abcdeg\nzones = a.example\n")),
              "[dc] id: must be exactly 32"));
  CHECK(names(error_of(with_dc("id = 00000000000000000000000000000000\nzones = a.example\n")),
              "[dc] id: must not be all zero"));

  // [dc] zones
  CHECK(
      names(error_of(with_dc("id = 0123456789abcdef0123456789abcdef\n")), "[dc] zones: required"));
  CHECK(names(error_of(with_dc("id = 0123456789abcdef0123456789abcdef\nzones = a_b.example\n")),
              "[dc] zones: 'a_b.example' is not a valid"));
  CHECK(names(error_of(with_dc("id = 0123456789abcdef0123456789abcdef\nzones = a.example,\n")),
              "[dc] zones: empty entry"));
  CHECK(names(
      error_of(with_dc("id = 0123456789abcdef0123456789abcdef\nzones = a.example, A.Example.\n")),
      "[dc] zones: duplicate zone 'a.example'"));

  // [dc] listen / advertise / probe_listen
  CHECK(names(error_of(with_dc(kIdZones + "listen = 0.0.0.0\n")), "[dc] listen: must be address"));
  CHECK(names(error_of(with_dc(kIdZones + "listen = 0.0.0.0:70000\n")), "[dc] listen"));
  CHECK(names(error_of(with_dc(kIdZones, false)),
              "[dc] advertise: advertise required when listen is a wildcard"));
  CHECK(names(error_of(with_dc(kIdZones + "listen = [::]:4510\n", false)),
              "[dc] advertise: advertise required when listen is a wildcard"));
  CHECK(names(error_of(with_dc(kIdZones + "advertise = nope\n", false)),
              "[dc] advertise: must be address"));
  CHECK(names(error_of(with_dc(kIdZones + "advertise = 0.0.0.0:4510\n", false)),
              "[dc] advertise: must be an address nodes can reach"));
  CHECK(names(error_of(with_dc(kIdZones + "probe_listen = 1.2.3.4\n")),
              "[dc] probe_listen: must be address"));
  CHECK(names(error_of(with_dc(kIdZones + "probe_listen = 0.0.0.0:4510\n")),
              "[dc] probe_listen: must differ from listen"));

  // [dc] state_dir / node_config_dir
  CHECK(names(error_of("[dc]\n" + kIdZones + "advertise = 192.0.2.1:1\n"),
              "[dc] state_dir: required"));
  CHECK(names(error_of("[dc]\n" + kIdZones + "advertise = 192.0.2.1:1\nstate_dir = var/lib\n"),
              "[dc] state_dir: must be an absolute path"));
  CHECK(names(error_of(with_dc(kIdZones + "node_config_dir = nodes\n")),
              "[dc] node_config_dir: must be an absolute path"));

  // [database]
  CHECK(names(error_of(with("[database]\nurl = mysql://x/y\n")), "[database] url: must be"));
  CHECK(names(error_of(with("[database]\nurl = xhost=a\n")), "[database] url: must be"));
  CHECK(names(error_of(with("[database]\nembedded_port = 65536\n")),
              "[database] embedded_port: must be between 0 and 65535"));
  CHECK(names(error_of(with("[database]\nembedded_port = 54x\n")),
              "[database] embedded_port: must be a decimal number"));
  CHECK(names(error_of(with("[database]\nembedded_port = -1\n")),
              "[database] embedded_port: must be a decimal number"));
  CHECK(names(error_of(with("[database]\nembedded_port = 99999999999999999999999\n")),
              "[database] embedded_port: must be between"));
  CHECK(names(error_of(with("[database]\ngroup_commit_max = 0\n")),
              "[database] group_commit_max: must be between 1 and 10000"));
  CHECK(names(error_of(with("[database]\ngroup_commit_max = 10001\n")),
              "[database] group_commit_max: must be between 1 and 10000"));
  CHECK(names(error_of(with("[database]\ngroup_commit_linger_ms = 1001\n")),
              "[database] group_commit_linger_ms: must be between 0 and 1000"));

  // [vip]
  CHECK(names(error_of(with("[vip]\npool = 100.64.0.0\n")), "[vip] pool: must be an IPv4 prefix"));
  CHECK(names(error_of(with("[vip]\npool = 100.64.0.1/16\n")),
              "[vip] pool: host bits must be zero (did you mean 100.64.0.0/16?)"));
  CHECK(names(error_of(with("[vip]\npool = 10.0.0.0/7\nroute_prefix_len = 7\n")),
              "[vip] pool: prefix length must be between 8 and 30"));
  CHECK(names(error_of(with("[vip]\npool = 10.0.0.0/31\n")),
              "[vip] pool: prefix length must be between 8 and 30"));
  CHECK(names(error_of(with("[vip]\nroute_prefix_len = 0\n")),
              "[vip] route_prefix_len: must be between 1 and 32"));
  CHECK(names(error_of(with("[vip]\nroute_prefix_len = 17\n")),
              "[vip] route_prefix_len: 17 must not be longer than the pool's prefix length 16"));
  CHECK(names(error_of(with("[vip]\npool = 10.0.0.0/8\n")),
              "[vip] route_prefix_len: 10 (default) must not be longer"));
  CHECK(names(error_of(with("[vip]\ngeneral_pool = 100.127.0.0\n")),
              "[vip] general_pool: must be an IPv4 prefix"));
  CHECK(names(error_of(with("[vip]\ngeneral_pool = 100.127.0.1/16\n")),
              "[vip] general_pool: host bits must be zero"));
  CHECK(names(error_of(with("[vip]\ngeneral_pool = 10.0.0.0/16\n")),
              "[vip] general_pool: 10.0.0.0/16 must lie inside the routed range 100.64.0.0/10"));
  CHECK(names(error_of(with("[vip]\ngeneral_pool = 100.64.0.0/17\n")),
              "[vip] general_pool: 100.64.0.0/17 overlaps pool 100.64.0.0/16"));
  CHECK(names(error_of(with("[vip]\nsubstitute_pool = 100.126.0.0\n")),
              "[vip] substitute_pool: must be an IPv4 prefix"));
  CHECK(names(error_of(with("[vip]\nsubstitute_pool = 100.126.0.1/16\n")),
              "[vip] substitute_pool: host bits must be zero"));
  CHECK(names(error_of(with("[vip]\nsubstitute_pool = 10.0.0.0/16\n")),
              "[vip] substitute_pool: 10.0.0.0/16 must lie inside the routed range 100.64.0.0/10"));
  CHECK(names(error_of(with("[vip]\nsubstitute_pool = 100.64.128.0/17\n")),
              "[vip] substitute_pool: 100.64.128.0/17 overlaps pool 100.64.0.0/16"));
  CHECK(names(error_of(with("[vip]\nsubstitute_pool = 100.127.0.0/24\n")),
              "[vip] substitute_pool: 100.127.0.0/24 overlaps general_pool 100.127.0.0/16"));
  // The default is checked too when another key moves the routed range.
  CHECK(names(error_of(with("[vip]\npool = 10.20.0.0/16\nroute_prefix_len = 8\n"
                            "general_pool = 10.127.0.0/16\n")),
              "[vip] substitute_pool: 100.126.0.0/16 (default) must lie inside the routed range"));

  // [timers]
  CHECK(names(error_of(with("[timers]\nkeepalive_s = 0\n")),
              "[timers] keepalive_s: must be between 1 and 3600"));
  CHECK(names(error_of(with("[timers]\nkeepalive_s = 3601\n")),
              "[timers] keepalive_s: must be between 1 and 3600"));
  CHECK(names(error_of(with("[timers]\nlifetime_s = 15\n")),
              "[timers] lifetime_s: 15 must be greater than keepalive_s (15)"));
  CHECK(names(error_of(with("[timers]\nkeepalive_s = 60\n")),
              "[timers] lifetime_s: 60 (default) must be greater than keepalive_s (60)"));
  CHECK(names(error_of(with("[timers]\nlifetime_s = 86401\n")),
              "[timers] lifetime_s: must be between 1 and 86400"));
  CHECK(names(error_of(with("[timers]\ndirection_timeout_ms = 99\n")),
              "[timers] direction_timeout_ms: must be between 100 and 60000"));
  CHECK(names(error_of(with("[timers]\ndirection_timeout_ms = 60001\n")),
              "[timers] direction_timeout_ms: must be between 100 and 60000"));
  CHECK(names(error_of(with("[timers]\nretransmit_initial_ms = 9\n")),
              "[timers] retransmit_initial_ms: must be between 10 and"));
  CHECK(names(error_of(with("[timers]\nretransmit_initial_ms = 3001\n")),
              "[timers] retransmit_initial_ms: 3001 must not exceed direction_timeout_ms (3000)"));
  CHECK(names(error_of(with("[timers]\ndirection_timeout_ms = 150\n")),
              "[timers] retransmit_initial_ms: 200 (default) must not exceed"));
  CHECK(names(error_of(with("[timers]\nmax_skew_s = 0\n")),
              "[timers] max_skew_s: must be between 1 and 3600"));
  CHECK(names(error_of(with("[timers]\nmax_skew_s = 3601\n")),
              "[timers] max_skew_s: must be between 1 and 3600"));
  CHECK(parse(with("[timers]\npath_rekey_s = 0\n")).path_rekey_s == 0);
  CHECK(parse(with("[timers]\npath_rekey_s = 2\n")).path_rekey_s == 2);
  CHECK(names(error_of(with("[timers]\npath_rekey_s = 1\n")),
              "[timers] path_rekey_s: must be 0 (never) or at least 2"));
  CHECK(names(error_of(with("[timers]\npath_rekey_s = 2592001\n")),
              "[timers] path_rekey_s: must be between 0 and 2592000"));
  // Under 10 min a member's one-minute cache of a confirmation could outlive
  // the row (dc.md §10).
  CHECK(names(error_of(with("[vip]\ngeneral_hold_s = 599\n")),
              "[vip] general_hold_s: must be between 600 and 31622400"));
  CHECK(parse(with("[vip]\ngeneral_hold_s = 600\n")).general_hold_s == 600);

  // [route]
  CHECK(names(error_of(with("[route]\nsame_network_prefix_len = 7\n")),
              "[route] same_network_prefix_len: must be between 8 and 32"));
  CHECK(names(error_of(with("[route]\nsame_network_prefix_len = 33\n")),
              "[route] same_network_prefix_len: must be between 8 and 32"));
  CHECK(names(error_of(with("[route]\nrelay_idle_timeout_s = 9\n")),
              "[route] relay_idle_timeout_s: must be between 10 and 86400"));
  CHECK(names(error_of(with("[route]\nrelay_idle_timeout_s = 86401\n")),
              "[route] relay_idle_timeout_s: must be between 10 and 86400"));

  // [log]
  CHECK(names(error_of(with("[log]\nlevel = verbose\n")), "[log] level: must be one of"));
  CHECK(names(error_of(with("[log]\nlevel = INFO\n")), "[log] level: must be one of"));
  CHECK(names(error_of(with("[log]\nstats_interval_s = 86401\n")),
              "[log] stats_interval_s: must be between 0 and 86400"));
  CHECK(names(error_of(with("[log]\nstats_interval_s = -1\n")), "[log] stats_interval_s"));

  // [limits]
  CHECK(names(error_of(with("[limits]\nrate_per_node = 0\n")),
              "[limits] rate_per_node: must be between 1 and 100000"));
  CHECK(names(error_of(with("[limits]\nrate_per_peer = 0\n")),
              "[limits] rate_per_peer: must be between 1 and 1000000"));
  CHECK(names(error_of(with("[limits]\nrate_per_node = 100001\n")),
              "[limits] rate_per_node: must be between 1 and 100000"));
  // [route]
  CHECK(names(error_of(with("[route]\nstandby_relay = maybe\n")),
              "[route] standby_relay: must be on or off, got 'maybe'"));
  CHECK_FALSE(parse(std::string(kMinimal) + "[route]\nstandby_relay = off\n").standby_relay);
}

TEST_CASE("config: an empty value means the default") {
  const Config c = parse(with("[timers]\nkeepalive_s =\n[database]\nurl =\n"));
  CHECK(c.keepalive_s == 15);
  CHECK(c.database_url.empty());
}

TEST_CASE("config: load reports unreadable files and prefixes errors with the path") {
  const auto dir = std::filesystem::temp_directory_path();
  // The pid keeps parallel test runs from sharing files.
  const std::string tag = std::to_string(::getpid());
  const auto missing = dir / ("ntm-dc-config-test-" + tag + "-missing.conf");
  std::filesystem::remove(missing);
  std::string msg;
  try {
    load(missing);
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  CHECK(msg == "cannot read " + missing.string() + ": No such file or directory");

  msg.clear();
  try {
    load(dir);  // a directory opens but cannot be read
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  CHECK(names(msg, "cannot read " + dir.string() + ": Is a directory"));

  const auto bad = dir / ("ntm-dc-config-test-" + tag + "-bad.conf");
  {
    std::FILE* f = std::fopen(bad.c_str(), "w");
    REQUIRE(f);
    std::fputs("[dc]\nid = 0\n", f);
    std::fclose(f);
  }
  msg.clear();
  try {
    load(bad);
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  std::filesystem::remove(bad);
  CHECK(msg == bad.string() + ": [dc] id: must be exactly 32 hex digits");
}

TEST_CASE("config: [dc] cluster lists every member, this one included") {
  // Default: this member alone.
  const Config d = parse(kMinimal);
  REQUIRE(d.cluster.size() == 1);
  CHECK(d.cluster[0].to_string() == "192.0.2.10:4510");
  const Config c = parse(with_dc(kIdZones + "cluster = 192.0.2.11:4510, 192.0.2.10:4510\n"));
  REQUIRE(c.cluster.size() == 2);
  CHECK(c.cluster[0].to_string() == "192.0.2.11:4510");
  CHECK(c.cluster[1].to_string() == "192.0.2.10:4510");
  CHECK(names(error_of(with_dc(kIdZones + "cluster = 192.0.2.11:4510\n")),
              "[dc] cluster: must include this member's advertise endpoint (192.0.2.10:4510)"));
  CHECK(names(error_of(with_dc(kIdZones + "cluster = 192.0.2.10:4510, 192.0.2.10:4510\n")),
              "[dc] cluster: '192.0.2.10:4510' listed twice"));
  CHECK(names(error_of(with_dc(kIdZones + "cluster = 192.0.2.10:4510, 0.0.0.0:4510\n")),
              "[dc] cluster: '0.0.0.0:4510' must be an address:port"));
  CHECK(names(error_of(with_dc(kIdZones + "cluster = 192.0.2.10:4510, dc2\n")),
              "[dc] cluster: must be address:port"));
  CHECK(names(error_of(with_dc(kIdZones + "cluster = 192.0.2.10:4510,,\n")),
              "[dc] cluster: empty entry"));
}
