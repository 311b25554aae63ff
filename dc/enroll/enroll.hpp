// SPDX-License-Identifier: MIT
// Enrollment: the operator's commands that create and revoke nodes and
// relays (ntm-dc node add|list|show|rekey|remove, relay likewise).  They
// write to the database; running DC processes learn of the change through
// PostgreSQL notifications and act at once (a removed node's messages are
// refused and its paths torn down).
#pragma once

#include <filesystem>
#include <iosfwd>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "store/store.hpp"

namespace ntm::dc::enroll {

// An operator error: printed as is, exit status 1.
class EnrollError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Enrolled {
  wire::NodeId id;
  std::string name;
  std::uint32_t vip = 0;  // nodes only
  std::uint8_t key_epoch = 0;
  std::filesystem::path config_file;
};

// Creates a node: random 128-bit ID, random 256-bit key, a VIP from the pool.
// Writes the node's config file (mode 0600) to out, or to
// <node_config_dir>/<fqdn>.conf when out is empty, or to `text` when out is "-".
Enrolled add_node(store::Store& store, const config::Config& cfg, const std::string& fqdn,
                  const std::filesystem::path& out, std::string* text = nullptr);
Enrolled add_relay(store::Store& store, const config::Config& cfg, const std::string& name,
                   const std::filesystem::path& out, std::string* text = nullptr);
void remove(store::Store& store, const std::string& name, bool relay);
// Replaces a party's key with a new random one under the next key epoch
// and writes its config file again (out as for add_node; an existing file
// is replaced whole, by rename).  The old key is refused at once: the
// party's daemon must be restarted with the new file.  ID, name and VIP
// stay.  e.key_epoch is the new epoch.
Enrolled rekey(store::Store& store, const config::Config& cfg, const std::string& name,
               bool relay, const std::filesystem::path& out, std::string* text = nullptr);
void list(store::Store& store, bool relays, std::ostream& os);
void show(store::Store& store, const std::string& name, bool relay, std::ostream& os);

// The zone of cfg that contains fqdn (longest match), or "" if none.
std::string zone_of(const std::string& fqdn, const std::vector<std::string>& zones);

}  // namespace ntm::dc::enroll
