// SPDX-License-Identifier: MIT
// Enrollment: the operator's commands that create and revoke nodes and
// relays (ntm-dc node add|list|show|rekey|remove, relay likewise).  They
// write to the database; running DC processes learn of the change through
// PostgreSQL notifications and act at once (a removed node's messages are
// refused and its paths torn down).
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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
// is replaced whole, by rename).  ID, name and VIP stay.  e.key_epoch is
// the new epoch.  grace_s 0: the old key (and any kept one) is refused at
// once, and the party is offline until its daemon has the new file and a
// SIGHUP.  Else the old key is still taken for grace_s seconds, or until
// the party first speaks under the new one (docs/dc.md §11).
Enrolled rekey(store::Store& store, const config::Config& cfg, const std::string& name,
               bool relay, const std::filesystem::path& out, std::string* text = nullptr,
               std::uint32_t grace_s = 0);

// The longest grace period a re-key takes: 30 days.
inline constexpr std::uint32_t kMaxGraceS = 30u * 86400u;
// A grace period as the operator writes it: a whole number with an
// optional unit s, m, h or d ("90", "90s", "15m", "12h", "7d"), from 1 s
// to kMaxGraceS.  nullopt for anything else.
std::optional<std::uint32_t> parse_grace(std::string_view text);
void list(store::Store& store, bool relays, std::ostream& os);
void show(store::Store& store, const std::string& name, bool relay, std::ostream& os);

// The zone of cfg that contains fqdn (longest match), or "" if none.
std::string zone_of(const std::string& fqdn, const std::vector<std::string>& zones);

}  // namespace ntm::dc::enroll
