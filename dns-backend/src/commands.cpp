// SPDX-License-Identifier: MIT
// directBackendCmd: operator commands through `pdnsutil backend-cmd`.  The
// reply is always text (pdns prints "backend command failed" for false).
#include <sstream>

#include "ntm/dns/backend.hpp"

namespace ntm::dns::handlers {

using nlohmann::json;

namespace {

constexpr std::string_view kHelp =
    "help                this text\n"
    "ping                PONG\n"
    "stats               request and error counters\n"
    "snapshot            zones with serial and record counts, node counts\n"
    "show NAME           the records published at NAME\n";

std::string stats_text(const CallContext& ctx) {
  std::ostringstream o;
  if (ctx.stats != nullptr) {
    const BackendStats& s = *ctx.stats;
    o << "requests " << s.requests << "\nmalformed_json " << s.malformed_json << "\nunknown_method "
      << s.unknown_method << "\nbad_params " << s.bad_params << "\nhandler_errors "
      << s.handler_errors << "\nno_snapshot " << s.no_snapshot << "\nlookups " << s.lookups
      << "\nlookup_misses " << s.lookup_misses << "\nnode_lookups " << s.node_lookups
      << "\nhook_errors " << s.hook_errors << "\nfast_lookups " << s.fast_lookups << '\n';
  }
  if (ctx.extra_stats != nullptr && *ctx.extra_stats) o << (*ctx.extra_stats)();
  return o.str();
}

std::string snapshot_text(const Snapshot& snap) {
  std::ostringstream o;
  for (const auto& z : snap.zones())
    o << "zone " << z.name << " id " << z.id << " serial " << z.serial << " records "
      << snap.zone_records(z.id).size() << '\n';
  const SnapshotStats& s = snap.stats();
  o << "nodes " << s.nodes << " outside_zones " << s.nodes_outside << " rejected "
    << s.nodes_rejected << " zones_rejected " << s.zones_rejected << " records " << s.records
    << '\n';
  return o.str();
}

std::string show_text(const Snapshot& snap, std::string_view name) {
  std::ostringstream o;
  const std::string key = lookup_key(name);
  for (const auto& r : snap.records_at(key))
    o << r.qname << ' ' << r.ttl_s << ' ' << r.qtype << ' ' << r.content << '\n';
  std::string s = o.str();
  return s.empty() ? "no records at " + key + "\n" : s;
}

}  // namespace

json direct_backend_cmd(const json& params, const Snapshot& snap, CallContext& ctx) {
  auto it = params.find("query");
  if (it == params.end() || !it->is_string()) return nullptr;
  std::string_view q = it->get_ref<const std::string&>();
  while (!q.empty() && (q.front() == ' ' || q.front() == '\t')) q.remove_prefix(1);
  while (!q.empty() && (q.back() == ' ' || q.back() == '\t' || q.back() == '\n'))
    q.remove_suffix(1);
  const auto sp = q.find(' ');
  std::string cmd(q.substr(0, sp));
  for (char& c : cmd)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string_view arg = sp == std::string_view::npos ? std::string_view{} : q.substr(sp + 1);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);

  if (cmd == "help" || cmd.empty()) return std::string(kHelp);
  if (cmd == "ping") return "PONG";
  if (cmd == "stats") return stats_text(ctx);
  if (cmd == "snapshot") return snapshot_text(snap);
  if (cmd == "show" && !arg.empty()) return show_text(snap, arg);
  return "unknown command; try help\n";
}

}  // namespace ntm::dns::handlers
