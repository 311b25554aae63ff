// SPDX-License-Identifier: MIT
// What the DC publishes in DNS, as plain data: the DC fills ZoneInput and
// NodeEntry from its in-memory view and calls build_snapshot() once at
// start; after that it applies each change of a node (put_node,
// remove_node) and of a zone's serial (set_serial) in place, on the thread
// that also serves lookups, so a registration is in the very next answer
// without rebuilding 100,000 nodes.  The Backend answers PowerDNS from it;
// no lookup ever touches the database or the DC's other state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ntm::dns {

// One node to publish.  The builder places it in the zone with the longest
// matching suffix; a name outside every zone is ignored.
struct NodeEntry {
  std::string fqdn;                       // any case, trailing dot optional
  std::optional<std::uint32_t> a_record;  // IPv4, host order; empty: no A (policy says so)
  std::string marker;                     // TXT text, unquoted; empty: no TXT.
                                          // Suggested: marker_text() below
};

struct ZoneInput {
  int id = 0;                              // pdns domain_id; unique, >= 0
  std::string name;                        // any case, trailing dot optional
  std::int64_t serial = 0;                 // the DC's zones.serial; published modulo 2^32
  std::vector<std::string> nameservers;    // NS targets; the first is the SOA mname
  std::string hostmaster;                  // SOA rname in domain form ("hostmaster.ntm.example.")
  std::vector<std::string> discovery_txt;  // TXT texts at _ntm-dc.<zone>, unquoted.
                                           // Suggested: discovery_text() below
  std::vector<std::pair<std::string, std::uint32_t>> ns_addresses;  // glue A (host order)
                                                                    // for NS names inside this zone
};

// TTLs and SOA timers, in seconds.  Node records carry the short TTL so a
// move reaches resolvers at once; see docs/dns.md for the cache choice.
struct Ttls {
  std::uint32_t node_s = 0;         // node A and marker TXT
  std::uint32_t zone_s = 3600;      // SOA, NS and NS glue: they change rarely
  std::uint32_t discovery_s = 300;  // _ntm-dc TXT: changes with a key roll or a new endpoint
  std::uint32_t soa_refresh_s = 3600;
  std::uint32_t soa_retry_s = 600;
  std::uint32_t soa_expire_s = 604800;
  // SOA minimum = negative-caching TTL (RFC 2308).  0: a node that enrols
  // right after a failed lookup of its name is visible in the next answer.
  std::uint32_t soa_minimum_s = 0;
  // ECS scope put on node records; non-zero keeps them out of pdns's query
  // and packet caches even when the operator left those caches on (the
  // "scopeMask" technique of the pdns reference).  0 = omit the field.
  std::uint8_t node_scope_mask = 32;
};

// One record as the remote backend returns it.
struct Record {
  std::string qname;    // canonical: lower case, trailing dot
  std::string qtype;    // "SOA", "NS", "A", "TXT", or "ENT" (empty non-terminal)
  std::string content;  // presentation format as pdns parses it
  std::uint32_t ttl_s = 0;
  int domain_id = -1;
  std::uint8_t scope_mask = 0;
  bool auth = true;  // no delegations yet: every record is authoritative
  // This record as the remote backend sends it, in two pieces around the
  // asker's spelling of the name: lookup answers are concatenated from
  // them instead of being built and serialised as JSON documents (the
  // backend's hot path).  Kept by make_record() and set_serial().
  std::string json_head, json_tail;
};

// A Record with its JSON pieces rendered (src/record_json.cpp).
Record make_record(std::string qname, std::string_view qtype, std::string content,
                   std::uint32_t ttl_s, int domain_id, std::uint8_t scope_mask);
void render_json(Record& r);

struct ZoneInfo {
  int id = 0;
  std::string name;  // canonical
  std::uint32_t serial = 0;
};

// What the builder dropped, so the DC can log it once per rebuild.
struct SnapshotStats {
  std::size_t zones = 0;
  std::size_t records = 0;
  std::size_t nodes = 0;           // published
  std::size_t nodes_outside = 0;   // in no served zone
  std::size_t nodes_rejected = 0;  // bad name, duplicate, or a name the zone itself uses
  std::size_t zones_rejected = 0;  // bad name, duplicate name or id, no nameserver
};

// What put_node() did.
enum class NodeChange : std::uint8_t {
  added,      // a new name
  changed,    // its records differ from before
  unchanged,  // the same records as before: nothing to publish
  rejected,   // not a host name, or a name the zone itself uses (apex, glue, discovery)
  outside,    // in no served zone
};

class Snapshot {
 public:
  Snapshot() = default;

  const std::vector<ZoneInfo>& zones() const noexcept { return zones_; }
  const ZoneInfo* zone_by_name(std::string_view canonical) const;
  const ZoneInfo* zone_by_id(int id) const;
  // Every record of a name (all types), empty when the name has none.  Valid
  // until the next change of the snapshot.
  std::span<const Record> records_at(std::string_view canonical) const;
  // The zone's records in list order: apex SOA, apex NS, then by name (ENT
  // placeholders included).  Linear in the zone's size: for AXFR.
  std::vector<Record> zone_records(int id) const;
  bool is_node(std::string_view canonical) const;
  const SnapshotStats& stats() const noexcept { return stats_; }

  // ---- changes, by the owner, on the thread that serves lookups ----------
  // Publishes a node, or replaces what was published under its name.
  NodeChange put_node(const NodeEntry& n);
  // Withdraws a node; false when the name was not a published node.
  bool remove_node(std::string_view fqdn);
  // Sets a zone's serial (the SOA content follows); false for an unknown id.
  bool set_serial(int zone_id, std::int64_t serial);
  // The zone a node name would be published in, or nullptr.
  const ZoneInfo* zone_of_name(std::string_view fqdn) const;

 private:
  friend Snapshot build_snapshot(const std::vector<ZoneInput>&, const std::vector<NodeEntry>&,
                                 const Ttls&);
  // Transparent, so a lookup by string_view does not build a string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class V>
  using NameMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

  // Zone data that changes only with the configuration: a range of the
  // zone's fixed record list.
  struct Range {
    std::size_t zone_index = 0;
    std::size_t first = 0;
    std::size_t count = 0;
  };
  struct NodeSlot {
    std::size_t zone_index = 0;
    std::vector<Record> records;
  };
  // An empty non-terminal above node names, kept while a node needs it.
  struct EntSlot {
    std::size_t zone_index = 0;
    std::size_t refs = 0;
    Record record;
  };
  struct SoaParts {
    std::string mname, rname;
  };

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t zone_index_of(std::string_view canonical) const;
  void add_ents(const std::string& name, std::size_t zi);
  void drop_ents(const std::string& name, std::size_t zi);
  std::string soa_content(std::size_t zi) const;

  Ttls ttls_;
  std::vector<ZoneInfo> zones_;
  std::vector<SoaParts> soa_;                      // parallel to zones_
  std::vector<std::vector<Record>> zone_records_;  // fixed records, parallel to zones_
  NameMap<Range> by_name_;                         // fixed names
  NameMap<NodeSlot> nodes_;
  NameMap<EntSlot> ents_;
  NameMap<std::size_t> zone_index_;
  SnapshotStats stats_;
};

Snapshot build_snapshot(const std::vector<ZoneInput>& zones, const std::vector<NodeEntry>& nodes,
                        const Ttls& ttls);

// Presentation helpers, exposed for the DC and the tests.

// Lower case with a trailing dot; nullopt when the name is not a usable
// host name (empty label, label > 63, name > 253, characters that would
// break presentation format).  "." is the root and is refused.
std::optional<std::string> canonical_name(std::string_view name);
// TXT content as pdns parses it: quoted, '"' and '\' escaped, bytes outside
// printable ASCII as \DDD, split into 255-byte strings.
std::string txt_content(std::string_view text);
std::string ipv4_text(std::uint32_t host_order);
// Suggested formats (docs/dns.md).  endpoint is "addr:port" of the DC's
// control port; fingerprint_hex the SHA-256 of the DC's key, lower-case hex.
std::string marker_text(std::string_view dc_endpoint);
std::string discovery_text(std::string_view endpoint, std::string_view fingerprint_hex);

// The owner name of a zone's discovery records.
inline constexpr std::string_view kDiscoveryLabel = "_ntm-dc";

}  // namespace ntm::dns
