// SPDX-License-Identifier: MIT
// ntm-dc's configuration: one INI file (deploy/ntm-dc.example.conf documents
// every key).  Loaded into a typed struct and validated at start; an error
// names the section and key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::dc::config {

// An IPv4 prefix such as 100.64.0.0/16 (host order).
struct Ipv4Prefix {
  std::uint32_t network = 0;
  unsigned length = 0;
  std::uint32_t size() const noexcept;  // addresses in the prefix (capped at 2^32-1)
  bool contains(std::uint32_t addr) const noexcept;
  std::string to_string() const;
  static bool parse(std::string_view text, Ipv4Prefix& out);
};

struct Config {
  // [dc]
  wire::DcId dc_id;                     // id = 32 hex digits (required)
  std::vector<std::string> zones;       // zones = comma-separated, canonical FQDNs (required)
  wire::Endpoint listen;                // listen = 0.0.0.0:4510
  wire::Endpoint advertise;             // advertise = endpoint nodes reach this DC at (default: listen)
  wire::Endpoint probe_listen;          // probe_listen = second port for NAT-mapping probes (optional)
  std::vector<wire::Endpoint> cluster;  // cluster = advertise endpoints of every member of this DC's
                                        //   cluster, this one included (default: advertise)
  std::filesystem::path state_dir;      // state_dir = /var/lib/ntm-dc
  std::filesystem::path node_config_dir;  // node_config_dir = where `node add` writes configs (default state_dir/nodes)

  // [database]
  std::string database_url;             // url = (empty: embedded cluster under state_dir/postgres)
  unsigned embedded_port = 0;           // embedded_port = 0 (0: pick a free loopback port)
  unsigned group_commit_max = 256;      // group_commit_max = operations per transaction
  unsigned group_commit_linger_ms = 10; // group_commit_linger_ms = how long writes nobody waits
                                        //   for (path state, liveness) gather before a commit

  // [vip]
  Ipv4Prefix vip_pool;                  // pool = 100.64.0.0/16
  unsigned vip_prefix_len = 10;         // route_prefix_len = 10 (range nodes route into the tunnel)
  Ipv4Prefix general_pool;              // general_pool = 100.127.0.0/16 (VIPs standing for general hosts;
                                        //   inside the routed range, disjoint from pool)
  Ipv4Prefix substitute_pool;           // substitute_pool = 100.126.0.0/16 (addresses an end uses for a
                                        //   peer whose VIP clashes in its view; inside the routed range,
                                        //   disjoint from pool and general_pool)
  unsigned general_hold_s = 86400;      // general_hold_s = how long a general host's VIP outlives its
                                        //   last direction and last path (600 .. 366 days)
  bool vip_force_substitute = false;    // not a file key: a test hook, every path gets a substitute

  // [timers]
  unsigned keepalive_s = 15;            // keepalive_s
  unsigned lifetime_s = 60;             // lifetime_s: silent longer -> offline
  unsigned direction_timeout_ms = 3000; // direction_timeout_ms: total time to direct a path
  unsigned retransmit_initial_ms = 200; // retransmit_initial_ms: first retransmission, then doubled
  unsigned max_skew_s = 60;             // max_skew_s: accepted clock difference
  // path_rekey_s: a path whose key epoch is this old is re-directed under a
  // new one, route and relay kept (docs/dc.md "Re-keying"); 0: never.
  unsigned path_rekey_s = 3600;

  // [route]
  unsigned same_network_prefix_len = 24;  // same_network_prefix_len
  unsigned relay_idle_timeout_s = 300;    // relay_idle_timeout_s
  // standby_relay: a direct route with a NATed first sender gets a relay
  // leg beside it, for the other end's moves (route::standby_relay).
  bool standby_relay = true;

  // [log]
  std::string log_level = "info";       // level
  // stats_interval_s: every so often the counters logged at stop are logged
  // while running too (cumulative since start); 0: only at stop.
  unsigned stats_interval_s = 300;

  // [limits]
  unsigned rate_per_node = 50;          // rate_per_node: control messages per second per node
  unsigned rate_per_peer = 5000;        // rate_per_peer: messages per second per peer DC

  // [dns]: the PowerDNS remote backend (docs/dns.md)
  struct Dns {
    std::filesystem::path socket;       // socket = unix socket pdns connects to (empty: DNS off)
    unsigned socket_mode = 0660;        // socket_mode = octal mode of the socket file
    std::vector<std::string> nameservers;  // nameservers = NS names of every zone (first: SOA mname)
    std::vector<std::pair<std::string, std::uint32_t>> ns_addresses;  // ns_addresses = NAME=IPV4, glue
    std::string hostmaster;             // hostmaster = SOA rname (default hostmaster.<zone>)
    std::optional<std::uint32_t> nat_address;  // nat_address = A for nodes behind NAT (empty: no A)
    unsigned prompt_interval_ms = 1000; // prompt_interval_ms = least time between two prompts of a node
    unsigned max_connections = 128;     // max_connections = pdns connections served at once
    unsigned request_timeout_ms = 10000;  // request_timeout_ms = a started request must complete in
    unsigned node_ttl_s = 0;            // node_ttl_s = TTL of node records
  } dns;

  // [federation] and [peer.NAME]: DC-to-DC federation (docs/federation.md).
  struct Peer {
    std::string name;                   // NAME in [peer.NAME], for logs
    wire::DcId dc_id;                   // dc_id = the peer DC's [dc] id (required)
    wire::SecretKey key;                // key = 64 hex digits, or key_file = file holding them
    std::uint8_t key_epoch = 0;         // key_epoch = generation of that key (0)
    std::vector<std::string> zones;     // zones = the zones this peer may answer for (required)
    std::vector<wire::Endpoint> endpoints;  // endpoints = its control endpoints (empty: from DNS)
  };
  struct Federation {
    bool enabled = false;               // a [federation] or [peer.*] section is present
    wire::Endpoint resolver;            // resolver = ip:port (empty: /etc/resolv.conf)
    unsigned dns_timeout_ms = 400;      // dns_timeout_ms = wait per DNS try
    unsigned dns_tries = 3;             // dns_tries = DNS tries before giving up
    unsigned dns_cache_size = 4096;     // dns_cache_size = names kept (by their TTL)
    unsigned peer_timeout_ms = 1500;    // peer_timeout_ms = bound on a Node Info exchange
    unsigned peer_retransmit_ms = 100;  // peer_retransmit_ms = first retransmission, then doubled
    // Certificates instead of (or beside) configured peers: any DC whose
    // certificate this CA issued is a peer for the zones in it.
    std::filesystem::path ca_file;      // ca_file = PEM CA certificate(s) (empty: no certificates)
    std::filesystem::path cert_file;    // cert_file = this DC's certificate for state_dir/dc-key.pem
    bool pin_dns = true;                // pin_dns = on: the key must match fp= of _ntm-dc.<zone>
    unsigned max_cert_peers = 1024;     // max_cert_peers = peers known by certificate at once
    bool certificates() const noexcept { return !ca_file.empty(); }
  } federation;
  std::vector<Peer> peers;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and validates; throws ConfigError("[section] key: what is wrong").
// Unknown sections and keys are errors too (a typo must not pass silently).
Config load(const std::filesystem::path& file);
Config parse(std::string_view ini_text);

}  // namespace ntm::dc::config
