// SPDX-License-Identifier: MIT
// Rows as the store reads them and the write operations it performs.
// Plain data: the rest of the DC uses these and never sees libpqxx.
#pragma once

#include <cstdint>
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

using WriteOp = std::variant<RegistrationWrite, SeenWrite, OfflineWrite, KeyRetireWrite, PathWrite,
                             PathDelete, ZoneSerialWrite>;

// Text forms used in the database.
std::string endpoint_text(const wire::Endpoint& e);
bool parse_endpoint_text(std::string_view s, wire::Endpoint& out);

}  // namespace ntm::dc::store
