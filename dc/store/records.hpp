// SPDX-License-Identifier: MIT
// Rows as the store reads them and the write operations it performs.
// Plain data: the rest of the DC uses these and never sees libpqxx.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"
#include "state/path.hpp"

namespace ntm::dc::store {

struct ZoneRow {
  int zone_id = 0;
  std::string name;
  std::int64_t serial = 0;
};

struct PartyRow {
  bool relay = false;
  wire::NodeId id;
  std::string name;  // FQDN (node) or relay name
  int zone_id = 0;
  wire::SecretKey key;
  std::uint8_t key_epoch = 0;
  std::uint32_t vip = 0;  // nodes only
  std::vector<wire::Endpoint> local;
  wire::Endpoint observed;
  bool behind_nat = false;
  bool symmetric_nat = false;
  bool online = false;
  std::uint64_t last_seen_ms = 0;
  std::uint32_t active_paths = 0;
  std::uint16_t load_permille = 0;
  // The key replaced by a re-key with a grace period (migration 0007), good
  // under epoch key_epoch - 1 until prev_key_until_ms (wall clock).
  std::optional<wire::SecretKey> prev_key;
  std::uint64_t prev_key_until_ms = 0;
};

// ---- write operations (executed by the group-commit writer) -------------

// A registration: addresses, NAT verdict, online.
struct RegistrationWrite {
  bool relay = false;
  wire::NodeId id;
  std::vector<wire::Endpoint> local;
  wire::Endpoint observed;
  bool behind_nat = false;
  bool symmetric_nat = false;
  // The Registration Request's sender instance and counter (counter 0:
  // none): carried in the cluster's note, so that the other members take
  // the message as seen and refuse a copy of it (docs/operations.md).
  std::uint32_t instance = 0;
  std::uint64_t counter = 0;
  bool operator==(const RegistrationWrite&) const = default;
};
// Liveness of a node or relay (soft state: written lazily).
struct SeenWrite {
  bool relay = false;
  wire::NodeId id;
  std::uint32_t active_paths = 0;   // relays
  std::uint16_t load_permille = 0;  // relays
};
struct OfflineWrite {
  bool relay = false;
  wire::NodeId id;
};
// The party spoke under its current key: its previous one, kept for a
// grace period after a re-key, is dropped (docs/dc.md §11).
struct KeyRetireWrite {
  bool relay = false;
  wire::NodeId id;
  std::uint8_t key_epoch = 0;  // the current one; a re-key since keeps its own
};
// The SOA serial the DC published for a zone (dc/dns/publisher.cpp): kept
// so that a restarted DC never publishes a lower one.  Only raises it.
struct ZoneSerialWrite {
  int zone_id = 0;
  std::int64_t serial = 0;
};
struct PathWrite {
  state::Path path;
};
struct PathDelete {
  wire::PathId id;
};

// A general host's VIP (migration 0008, docs/dc.md §10): the name's row,
// its last_used renewed, or else a new row with the first free address of
// the pool after `start` (an offset; the caller derives it from the name,
// so a name whose row was forgotten gets its old address back while that is
// free).  The writer fills `result` before the operation's completion runs.
struct GeneralHostClaim {
  struct Result {
    std::uint32_t vip = 0;   // 0: none, see exhausted
    bool exhausted = false;  // every address of the pool is taken
  };
  std::string name;
  std::uint32_t pool_network = 0;  // [vip] general_pool
  unsigned pool_length = 0;
  std::uint32_t start = 0;
  std::shared_ptr<Result> result = std::make_shared<Result>();
};
// Forgets the general hosts that no path leads to and nobody claimed for
// hold_s seconds, and those outside the pool (it was changed): their
// addresses are free again.
struct GeneralHostSweep {
  std::uint32_t pool_network = 0;
  unsigned pool_length = 0;
  std::uint32_t hold_s = 0;
  std::shared_ptr<std::uint64_t> forgotten = std::make_shared<std::uint64_t>(0);
};

using WriteOp = std::variant<RegistrationWrite, SeenWrite, OfflineWrite, KeyRetireWrite, PathWrite,
                             PathDelete, ZoneSerialWrite, GeneralHostClaim, GeneralHostSweep>;

// Text forms used in the database.
std::string endpoint_text(const wire::Endpoint& e);
bool parse_endpoint_text(std::string_view s, wire::Endpoint& out);

}  // namespace ntm::dc::store
