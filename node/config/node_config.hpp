// SPDX-License-Identifier: MIT
// ntmd's configuration: the file `ntm-dc node add` wrote ([node], [dc]) with
// an optional [ntmd] section (docs/data-plane.md §6).  Validated at load, so
// a wrong value stops the daemon with a message naming "[section] key".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::node {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct NodeConfig {
  // [node]
  wire::NodeId id;
  wire::Fqdn fqdn;
  wire::SecretKey key;
  std::uint8_t key_epoch = 0;
  // [dc]
  wire::Endpoint dc;
  wire::Endpoint probe;  // empty: the DC runs no probe port
  // [dc] endpoints: every member of the DC's cluster (docs/node.md "DC
  // cluster"), starting with `endpoint`, then the others in the file's
  // order after it: the order in which ntmd fails over.  Just `endpoint`
  // when the file has no list.
  std::vector<wire::Endpoint> dc_members;
  // [ntmd]
  wire::Endpoint listen;           // 0.0.0.0:4520
  std::string tun = "ntm0";
  int mtu = 1400;
  bool offload = true;             // TUN offloads (TSO) when the kernel offers them
  wire::Endpoint dns_listen;       // 127.0.0.53:53; port 0: no resolver
  wire::Endpoint dns_upstream;     // empty: from /etc/resolv.conf
  std::vector<std::string> passthrough;
  std::uint32_t tunnel_wait_ms = 5000;
  // A path with no data either way for this long is let go, here and at
  // the DC, and directed anew when an application sends to the peer again
  // (docs/node.md "Idle paths").  0: never.
  std::uint32_t path_idle_s = 600;
  std::string status_socket = "/run/ntmd/ntmd.sock";
  // Not read from the file: the local endpoints to report instead of the
  // interfaces' addresses (tests play nodes behind NAT on loopback with it).
  std::vector<wire::Endpoint> report_local;
};

// Parses the text of a configuration file; throws ConfigError.
NodeConfig parse_node_config(const std::string& text);
NodeConfig load_node_config(const std::string& path);

// The first "nameserver" of a resolv.conf text that is not `self`, port 53;
// empty if none.
wire::Endpoint upstream_from_resolv_conf(const std::string& text, const wire::Endpoint& self);

}  // namespace ntm::node
