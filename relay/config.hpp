// SPDX-License-Identifier: MIT
// ntm-rs's configuration: the file `ntm-dc relay add` writes ([relay],
// [dc]) with an optional [rs] section (docs/relay.md).  Every key that is
// not read is an error naming "[section] key", so a typo never silently
// falls back to a default.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::relay {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  // [relay]
  wire::NodeId id;
  std::string name;
  wire::SecretKey key;
  std::uint8_t key_epoch = 0;
  // [dc]
  wire::DcId dc_id;
  wire::Endpoint dc;  // the member that enrolled us: our home at start
  // Every member of the DC's cluster in failover order, dc first
  // ([dc] endpoints; only dc when absent).
  std::vector<wire::Endpoint> dc_members;
  wire::Endpoint dc_probe;  // read and kept; ntm-rs does not probe
  // [rs]
  wire::Endpoint listen;     // default 0.0.0.0:4530
  wire::Endpoint advertise;  // default: listen, unless that is a wildcard
  std::string tun = "ntmrs0";
  std::uint32_t virtual_net = 0x64400000;  // 100.64.0.0/10
  std::uint8_t virtual_prefix_len = 10;
  std::uint32_t max_paths = 10000;
  bool translate = true;
  // Forward paths' capsules carried by nftables rules once both ends are
  // known (docs/relay.md, "Kernel forwarding"); off: all through the socket.
  bool kernel_forward = true;
  std::filesystem::path status_socket = "/run/ntm-rs/ntm-rs.sock";
  std::string log_level = "info";
};

inline constexpr std::uint16_t kDefaultPort = 4530;

// Parses the text of a config file; throws ConfigError.
Config parse_config(const std::string& text);
// Reads and parses a file; throws ConfigError.
Config load_config(const std::filesystem::path& path);
// Only the [rs] status_socket (for `ntm-rs status`, which needs nothing else).
std::filesystem::path status_socket_of(const std::filesystem::path& path);

}  // namespace ntm::relay
