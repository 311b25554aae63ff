// SPDX-License-Identifier: MIT
// The PowerDNS 4.7 remote-backend protocol over a Snapshot: a table from
// method name to one pure handler, {"result":false} for anything else.
// Transport-free: SocketServer feeds it lines; tests feed it JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ntm/dns/zone_data.hpp"

namespace ntm::dns {

// A lookup that pdns made for a node's name while answering a query.  The
// views are valid only during the hook call.  pdns asks the same name
// twice per query (referral check, then the answer), so whatever the hook
// triggers must be idempotent; lookups that only find the zone (SOA walk,
// apex) never reach the hook.
struct NodeLookup {
  std::string_view qname;        // canonical (lower case, trailing dot)
  std::string_view remote;       // packet source (usually a resolver); empty if none
  std::string_view real_remote;  // ECS subnet or remote/32; empty if none
  int zone_id = -1;
};

using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;
using NodeLookupHook = std::function<void(const NodeLookup&)>;

struct BackendStats {
  std::uint64_t requests = 0;
  std::uint64_t malformed_json = 0;  // not JSON, or not {"method": string, ...}
  std::uint64_t unknown_method = 0;  // answered false
  std::uint64_t bad_params = 0;      // a known method with parameters it cannot use
  std::uint64_t handler_errors = 0;  // an exception inside a handler (a bug), answered false
  std::uint64_t no_snapshot = 0;     // the source gave nothing, answered false
  std::uint64_t lookups = 0;
  std::uint64_t lookup_misses = 0;  // lookups answered false
  std::uint64_t node_lookups = 0;   // hook calls
  std::uint64_t hook_errors = 0;    // exceptions thrown by the hook, swallowed
  std::uint64_t fast_lookups = 0;   // lookups answered by the fast path (lookup_fast.cpp)
};

// What a handler gets besides its parameters and the snapshot.  Handlers
// stay pure: they read `stats`/`extra_stats` and write `node_lookup`; the
// Backend acts on it after the handler returns.
struct CallContext {
  const BackendStats* stats = nullptr;                        // directBackendCmd "stats"
  const std::function<std::string()>* extra_stats = nullptr;  // ditto, may be empty
  bool node_lookup = false;                                   // out: lookup hit a node
  NodeLookup lookup;                                          // out: valid if node_lookup
};

// A handler returns the value of "result"; a null json means "malformed
// parameters" and is sent as false.
using Handler = nlohmann::json (*)(const nlohmann::json& params, const Snapshot& snap,
                                   CallContext& ctx);

// The method table, keyed by lower-case method name: pdns 4.7 sends
// camelCase, its docs show lower case, so the Backend lower-cases before
// the lookup.
const std::unordered_map<std::string_view, Handler>& method_table();

class Backend {
 public:
  explicit Backend(SnapshotSource source, NodeLookupHook hook = {});
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // One request (a JSON text without the newline) to one reply (without
  // the newline).  Never throws for any input; a failure is {"result":false}.
  std::string handle_line(std::string_view line);
  // The same without the lookup fast path: the reference the fast path is
  // checked against (tests, fuzzer).
  std::string handle_line_general(std::string_view line);
  // The same on parsed JSON: returns {"result": ...}.
  nlohmann::json handle(const nlohmann::json& request);

  // Text appended to directBackendCmd "stats" (e.g. the socket server's
  // counters).  Set before serving.
  void set_extra_stats(std::function<std::string()> f) { extra_stats_ = std::move(f); }

  BackendStats stats() const;

 private:
  struct Counters {
    std::atomic<std::uint64_t> requests{0}, malformed_json{0}, unknown_method{0}, bad_params{0},
        handler_errors{0}, no_snapshot{0}, lookups{0}, lookup_misses{0}, node_lookups{0},
        hook_errors{0}, fast_lookups{0};
  };
  nlohmann::json dispatch(std::string_view method, const nlohmann::json& params);
  // The common, well-formed lookup without a JSON document (lookup_fast.cpp);
  // nullopt: not that case, take the general path.
  std::optional<std::string> fast_lookup(std::string_view line);
  static void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  struct FastParser;
  std::unique_ptr<FastParser> fast_;
  SnapshotSource source_;
  NodeLookupHook hook_;
  std::function<std::string()> extra_stats_;
  Counters c_;
};

// The handlers, one per method (src/handlers.cpp).  Exposed for tests.
namespace handlers {
nlohmann::json initialize(const nlohmann::json& params, const Snapshot& snap, CallContext& ctx);
nlohmann::json lookup(const nlohmann::json& params, const Snapshot& snap, CallContext& ctx);
nlohmann::json get_all_domains(const nlohmann::json& params, const Snapshot& snap,
                               CallContext& ctx);
nlohmann::json get_domain_info(const nlohmann::json& params, const Snapshot& snap,
                               CallContext& ctx);
nlohmann::json get_all_domain_metadata(const nlohmann::json& params, const Snapshot& snap,
                                       CallContext& ctx);
nlohmann::json get_domain_metadata(const nlohmann::json& params, const Snapshot& snap,
                                   CallContext& ctx);
nlohmann::json list(const nlohmann::json& params, const Snapshot& snap, CallContext& ctx);
nlohmann::json direct_backend_cmd(const nlohmann::json& params, const Snapshot& snap,
                                  CallContext& ctx);
}  // namespace handlers

// Helpers shared by the handlers.
// DNS names and types compare case-insensitively (ASCII only).
bool ascii_iequals(std::string_view a, std::string_view b);
// ASCII lower case plus a trailing dot: the Snapshot's key for a name.
std::string lookup_key(std::string_view qname);
nlohmann::json record_json(const Record& r, std::string_view qname);

}  // namespace ntm::dns
