// SPDX-License-Identifier: MIT
#include "store/store.hpp"

#include <libpq-fe.h>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <set>
#include <unordered_map>

#include "config/config.hpp"
#include "state/party.hpp"  // std::hash of IDs
#include "store/change_note.hpp"

namespace ntm::dc::store {

namespace {

// ---- the SQL, by name -----------------------------------------------------
// IDs and keys travel as hex text (decode/encode in SQL): libpqxx 6.4 has no
// binary parameters, and hex keeps the statements readable.

struct Statement {
  const char* name;
  const char* sql;
};

constexpr Statement kStatements[] = {
    {"zone_insert",
     "INSERT INTO zones (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"},
    {"zone_list", "SELECT zone_id, name, serial FROM zones ORDER BY zone_id"},
    {"zone_bump", "UPDATE zones SET serial = serial + 1 WHERE zone_id = $1"},
    {"node_list",
     "SELECT encode(node_id, 'hex'), fqdn, zone_id, encode(node_key, 'hex'), key_epoch, "
     "host(vip), local_endpoints::text, coalesce(host(observed_addr), ''), "
     "coalesce(observed_port, 0), behind_nat, symmetric_nat, online, "
     "coalesce((extract(epoch FROM last_seen) * 1000)::bigint, 0), "
     "coalesce(encode(prev_key, 'hex'), ''), coalesce((extract(epoch FROM prev_key_until) * 1000)::bigint, 0) FROM nodes"},
    {"node_get",
     "SELECT encode(node_id, 'hex'), fqdn, zone_id, encode(node_key, 'hex'), key_epoch, "
     "host(vip), local_endpoints::text, coalesce(host(observed_addr), ''), "
     "coalesce(observed_port, 0), behind_nat, symmetric_nat, online, "
     "coalesce((extract(epoch FROM last_seen) * 1000)::bigint, 0), "
     "coalesce(encode(prev_key, 'hex'), ''), coalesce((extract(epoch FROM prev_key_until) * 1000)::bigint, 0) FROM nodes "
     "WHERE node_id = decode($1, 'hex')"},
    {"node_by_fqdn", "SELECT encode(node_id, 'hex') FROM nodes WHERE fqdn = $1"},
    {"relay_list",
     "SELECT encode(relay_id, 'hex'), name, encode(relay_key, 'hex'), key_epoch, "
     "local_endpoints::text, coalesce(host(observed_addr), ''), coalesce(observed_port, 0), "
     "online, coalesce((extract(epoch FROM last_seen) * 1000)::bigint, 0), active_paths, "
     "load_permille, "
     "coalesce(encode(prev_key, 'hex'), ''), coalesce((extract(epoch FROM prev_key_until) * 1000)::bigint, 0) FROM relays"},
    {"relay_get",
     "SELECT encode(relay_id, 'hex'), name, encode(relay_key, 'hex'), key_epoch, "
     "local_endpoints::text, coalesce(host(observed_addr), ''), coalesce(observed_port, 0), "
     "online, coalesce((extract(epoch FROM last_seen) * 1000)::bigint, 0), active_paths, "
     "load_permille, "
     "coalesce(encode(prev_key, 'hex'), ''), coalesce((extract(epoch FROM prev_key_until) * 1000)::bigint, 0) FROM relays WHERE relay_id = decode($1, 'hex')"},
    {"relay_by_name", "SELECT encode(relay_id, 'hex') FROM relays WHERE name = $1"},
    {"vip_list", "SELECT host(vip) FROM nodes"},
    {"node_insert",
     "INSERT INTO nodes (node_id, fqdn, zone_id, node_key, vip) "
     "VALUES (decode($1, 'hex'), $2, $3, decode($4, 'hex'), $5::inet)"},
    {"relay_insert",
     "INSERT INTO relays (relay_id, name, relay_key) "
     "VALUES (decode($1, 'hex'), $2, decode($3, 'hex'))"},
    {"node_delete",
     "DELETE FROM nodes WHERE node_id = decode($1, 'hex') RETURNING zone_id"},
    {"relay_delete", "DELETE FROM relays WHERE relay_id = decode($1, 'hex')"},
    // $4: the grace period in seconds (0: none).  With one the replaced
    // key is kept beside the new one and the party stays online; without,
    // any kept key goes too (a leaked key is refused at once).  SET reads
    // the row as it was, so prev_key takes the key being replaced.
    {"node_rekey",
     "UPDATE nodes SET node_key = decode($2, 'hex'), key_epoch = ($3::int + 1) % 256, "
     "prev_key = CASE WHEN $4::int > 0 THEN node_key END, "
     "prev_key_until = CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4::int) END, "
     "online = online AND $4::int > 0, updated_at = now() "
     "WHERE node_id = decode($1, 'hex') AND key_epoch = $3"},
    {"relay_rekey",
     "UPDATE relays SET relay_key = decode($2, 'hex'), key_epoch = ($3::int + 1) % 256, "
     "prev_key = CASE WHEN $4::int > 0 THEN relay_key END, "
     "prev_key_until = CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4::int) END, "
     "online = online AND $4::int > 0, updated_at = now() "
     "WHERE relay_id = decode($1, 'hex') AND key_epoch = $3"},
    // The party spoke under its current key (epoch $2): its previous key
    // is no longer needed anywhere.  A re-key since then is left alone.
    {"node_key_retire",
     "UPDATE nodes SET prev_key = NULL, prev_key_until = NULL "
     "WHERE node_id = decode($1, 'hex') AND key_epoch = $2 AND prev_key IS NOT NULL"},
    {"relay_key_retire",
     "UPDATE relays SET prev_key = NULL, prev_key_until = NULL "
     "WHERE relay_id = decode($1, 'hex') AND key_epoch = $2 AND prev_key IS NOT NULL"},
    {"node_register",
     "UPDATE nodes SET local_endpoints = $2::text[], observed_addr = NULLIF($3, '')::inet, "
     "observed_port = $4, behind_nat = $5, symmetric_nat = $6, online = true, "
     "last_seen = now(), updated_at = now() WHERE node_id = decode($1, 'hex')"},
    {"relay_register",
     "UPDATE relays SET local_endpoints = $2::text[], observed_addr = NULLIF($3, '')::inet, "
     "observed_port = $4, online = true, last_seen = now(), updated_at = now() "
     "WHERE relay_id = decode($1, 'hex')"},
    // Group commit: every node registration of a batch in one statement
    // (one round trip instead of one per registration).
    {"node_register_bulk",
     "UPDATE nodes AS n SET local_endpoints = string_to_array(v.locals, ' '), "
     "observed_addr = NULLIF(v.addr, '')::inet, observed_port = v.port, behind_nat = v.nat, "
     "symmetric_nat = v.sym, online = true, last_seen = now(), updated_at = now() "
     "FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bool[], $6::bool[]) "
     "AS v(id, locals, addr, port, nat, sym) WHERE n.node_id = decode(v.id, 'hex')"},
    // Group commit: every path write of a batch in one statement.
    {"path_upsert_bulk",
     "INSERT INTO paths (path_id, initiator, responder, responder_fqdn, general_addr, route_type, "
     "first_sender, relay_id, relay_addr, relay_port, key_epoch, state, remote, initiator_view, "
     "responder_view, initiator_fqdn) "
     "SELECT decode(v.id, 'hex'), decode(v.ini, 'hex'), decode(NULLIF(v.resp, ''), 'hex'), v.fqdn, "
     "NULLIF(v.gaddr, '')::inet, v.route, v.first, decode(NULLIF(v.relay, ''), 'hex'), "
     "NULLIF(v.raddr, '')::inet, NULLIF(v.rport, 0), v.epoch, v.state, v.remote, "
     "NULLIF(v.iview, '')::inet, NULLIF(v.rview, '')::inet, NULLIF(v.ifqdn, '') "
     "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], "
     "$7::int[], $8::text[], $9::text[], $10::int[], $11::int[], $12::int[], $13::bool[], "
     "$14::text[], $15::text[], $16::text[]) "
     "AS v(id, ini, resp, fqdn, gaddr, route, first, relay, raddr, rport, epoch, state, remote, "
     "iview, rview, ifqdn) "
     "ON CONFLICT (path_id) DO UPDATE SET route_type = EXCLUDED.route_type, "
     "first_sender = EXCLUDED.first_sender, relay_id = EXCLUDED.relay_id, "
     "relay_addr = EXCLUDED.relay_addr, relay_port = EXCLUDED.relay_port, "
     "key_epoch = EXCLUDED.key_epoch, state = EXCLUDED.state, "
     "initiator_view = EXCLUDED.initiator_view, responder_view = EXCLUDED.responder_view, "
     "initiator_fqdn = EXCLUDED.initiator_fqdn, updated_at = now()"},
    {"zone_serial", "UPDATE zones SET serial = GREATEST(serial, $2) WHERE zone_id = $1"},
    {"node_seen", "UPDATE nodes SET last_seen = now(), online = true WHERE node_id = decode($1, 'hex')"},
    {"relay_seen",
     "UPDATE relays SET last_seen = now(), online = true, active_paths = $2, load_permille = $3 "
     "WHERE relay_id = decode($1, 'hex')"},
    {"node_offline",
     "UPDATE nodes SET online = false, updated_at = now() WHERE node_id = decode($1, 'hex')"},
    {"relay_offline",
     "UPDATE relays SET online = false, updated_at = now() WHERE relay_id = decode($1, 'hex')"},
    {"path_upsert",
     "INSERT INTO paths (path_id, initiator, responder, responder_fqdn, general_addr, route_type, "
     "first_sender, relay_id, relay_addr, relay_port, key_epoch, state, remote, initiator_view, "
     "responder_view, initiator_fqdn) "
     "VALUES (decode($1, 'hex'), decode($2, 'hex'), decode(NULLIF($3, ''), 'hex'), $4, "
     "NULLIF($5, '')::inet, $6, $7, decode(NULLIF($8, ''), 'hex'), NULLIF($9, '')::inet, "
     "NULLIF($10, 0), $11, $12, $13, NULLIF($14, '')::inet, NULLIF($15, '')::inet, "
     "NULLIF($16, '')) "
     "ON CONFLICT (path_id) DO UPDATE SET route_type = EXCLUDED.route_type, "
     "first_sender = EXCLUDED.first_sender, relay_id = EXCLUDED.relay_id, "
     "relay_addr = EXCLUDED.relay_addr, relay_port = EXCLUDED.relay_port, "
     "key_epoch = EXCLUDED.key_epoch, state = EXCLUDED.state, "
     "initiator_view = EXCLUDED.initiator_view, responder_view = EXCLUDED.responder_view, "
     "initiator_fqdn = EXCLUDED.initiator_fqdn, updated_at = now()"},
    // Every path deletion of a batch in one statement (group commit).
    {"path_delete_bulk",
     "DELETE FROM paths WHERE path_id = ANY (SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x)"},
    {"path_list",
     "SELECT encode(path_id, 'hex'), encode(initiator, 'hex'), coalesce(encode(responder, 'hex'), ''), "
     "responder_fqdn, coalesce(host(general_addr), ''), route_type, first_sender, "
     "coalesce(encode(relay_id, 'hex'), ''), coalesce(host(relay_addr), ''), "
     "coalesce(relay_port, 0), key_epoch, state, "
     "(extract(epoch FROM created_at) * 1000)::bigint, "
     "(extract(epoch FROM updated_at) * 1000)::bigint, remote, "
     "coalesce(host(initiator_view), ''), coalesce(host(responder_view), ''), "
     "coalesce(initiator_fqdn, '') "
     "FROM paths WHERE state <> 3"},
    // Paths keep no foreign keys (migration 0003): rows whose node went
    // while another DC process wrote them go before a full load.
    // A federated path (remote) has one end that is another DC's node: it
    // goes when its own end, whichever that is, is gone.
    {"path_orphans_delete",
     "DELETE FROM paths p WHERE (NOT p.remote AND "
     "(NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = p.initiator) "
     "OR (p.responder IS NOT NULL AND "
     "NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = p.responder)))) "
     "OR (p.remote AND NOT EXISTS (SELECT 1 FROM nodes n "
     "WHERE n.node_id = p.initiator OR n.node_id = p.responder))"},
    {"path_orphans_unlink",
     "UPDATE paths p SET relay_id = NULL WHERE p.relay_id IS NOT NULL AND "
     "NOT EXISTS (SELECT 1 FROM relays r WHERE r.relay_id = p.relay_id)"},
    // General hosts' VIPs (migration 0008, dc.md §10).  $2 is the pool.
    {"general_host_touch",
     "UPDATE general_hosts SET last_used = now() WHERE name = $1 AND vip << $2::cidr "
     "RETURNING host(vip)"},
    // A row left from another pool goes before the name gets a new address.
    {"general_host_drop", "DELETE FROM general_hosts WHERE name = $1 AND NOT vip << $2::cidr"},
    // The first free address from offset $4 on, wrapping, of the $3
    // usable ones from $2.  A candidate taken meanwhile by another DC
    // process (the name or the address) inserts nothing: the caller tries
    // again, and the next statement's snapshot sees that row.
    {"general_host_insert",
     "INSERT INTO general_hosts (name, vip) "
     "SELECT $1, $2::inet + ($4::bigint + i) % $3::bigint "
     "FROM generate_series(0::bigint, $3::bigint - 1) AS i "
     "WHERE NOT EXISTS (SELECT 1 FROM general_hosts g "
     "WHERE g.vip = $2::inet + ($4::bigint + i) % $3::bigint) "
     "LIMIT 1 ON CONFLICT DO NOTHING RETURNING host(vip)"},
    {"general_host_count", "SELECT count(*) FROM general_hosts WHERE vip << $1::cidr"},
    // A row last claimed before the hold and that no path leads to, or one
    // outside the pool.  READ COMMITTED re-checks last_used on a row a
    // concurrent claim renewed, so a claimed address is never taken away.
    {"general_host_sweep",
     "DELETE FROM general_hosts g WHERE NOT g.vip << $1::cidr OR "
     "(g.last_used < now() - make_interval(secs => $2::bigint) AND NOT EXISTS "
     "(SELECT 1 FROM paths p WHERE p.general_addr IS NOT NULL AND p.responder_fqdn = g.name))"},
    {"notify", "SELECT pg_notify('ntm_changes', $1)"},
    // A batch's notes in one round trip, delivered in array order.
    {"notify_many", "SELECT pg_notify('ntm_changes', n) FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i) ORDER BY i"},
    // The same, in a cluster: the transaction then commits without waiting
    // for its WAL flush, so PostgreSQL's notify lock (held from before the
    // commit to its end) is not held across the flush; "flush_mark" makes
    // the batch durable afterwards (migration 0006, dc.md §12.2).  One round
    // trip: the setting is read at commit.
    {"notify_many_async",
     "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)) "
     "SELECT pg_notify('ntm_changes', n) FROM s, unnest($1::text[]) WITH ORDINALITY AS u(n, i) "
     "ORDER BY i"},
    {"flush_mark",
     "INSERT INTO flush_marks (sender, batches) VALUES ($1, 1) ON CONFLICT (sender) DO UPDATE "
     "SET batches = flush_marks.batches + 1, at = now()"},
    {"flush_marks_forget",
     "DELETE FROM flush_marks WHERE sender = $1 OR at < now() - interval '1 day'"},
    // Another DC process changed these rows (docs/operations.md "DC
    // cluster"): reloaded in one round trip per table.
    {"node_get_many",
     "SELECT encode(node_id, 'hex'), fqdn, zone_id, encode(node_key, 'hex'), key_epoch, "
     "host(vip), local_endpoints::text, coalesce(host(observed_addr), ''), "
     "coalesce(observed_port, 0), behind_nat, symmetric_nat, online, "
     "coalesce((extract(epoch FROM last_seen) * 1000)::bigint, 0), "
     "coalesce(encode(prev_key, 'hex'), ''), coalesce((extract(epoch FROM prev_key_until) * 1000)::bigint, 0) FROM nodes "
     "WHERE node_id = ANY (SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x)"},
    {"relay_get_many",
     "SELECT encode(relay_id, 'hex'), name, encode(relay_key, 'hex'), key_epoch, "
     "local_endpoints::text, coalesce(host(observed_addr), ''), coalesce(observed_port, 0), "
     "online, coalesce((extract(epoch FROM last_seen) * 1000)::bigint, 0), active_paths, "
     "load_permille, "
     "coalesce(encode(prev_key, 'hex'), ''), coalesce((extract(epoch FROM prev_key_until) * 1000)::bigint, 0) FROM relays "
     "WHERE relay_id = ANY (SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x)"},
    {"path_get_many",
     "SELECT encode(path_id, 'hex'), encode(initiator, 'hex'), coalesce(encode(responder, 'hex'), ''), "
     "responder_fqdn, coalesce(host(general_addr), ''), route_type, first_sender, "
     "coalesce(encode(relay_id, 'hex'), ''), coalesce(host(relay_addr), ''), "
     "coalesce(relay_port, 0), key_epoch, state, "
     "(extract(epoch FROM created_at) * 1000)::bigint, "
     "(extract(epoch FROM updated_at) * 1000)::bigint, remote, "
     "coalesce(host(initiator_view), ''), coalesce(host(responder_view), ''), "
     "coalesce(initiator_fqdn, '') "
     "FROM paths WHERE state <> 3 "
     "AND path_id = ANY (SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x)"},
};

template <class Tag>
std::string hex(const wire::Id<Tag>& id) {
  return id.to_hex();
}

template <class Tag>
wire::Id<Tag> id_from(const pqxx::field& f) {
  wire::Id<Tag> id;
  if (!f.is_null()) wire::Id<Tag>::from_hex(f.c_str(), id);
  return id;
}

std::string endpoint_array(const std::vector<wire::Endpoint>& eps) {
  std::string s = "{";
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (i) s += ',';
    s += '"' + endpoint_text(eps[i]) + '"';  // only [0-9a-f:.\[\]]: nothing to escape
  }
  return s + "}";
}

std::vector<wire::Endpoint> parse_endpoint_array(std::string_view s) {
  std::vector<wire::Endpoint> out;
  if (s.size() < 2) return out;
  s = s.substr(1, s.size() - 2);
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    if (!item.empty() && item.front() == '"') item = item.substr(1, item.size() - 2);
    wire::Endpoint e;
    if (parse_endpoint_text(item, e)) out.push_back(e);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

wire::Endpoint endpoint_from(const pqxx::field& addr, const pqxx::field& port) {
  wire::Endpoint e;
  if (!addr.is_null() && std::strlen(addr.c_str()) && wire::IpAddr::parse(addr.c_str(), e.addr))
    e.port = static_cast<std::uint16_t>(port.as<int>());
  return e;
}

// prev_key and prev_key_until (migration 0007): "" and 0 when none.
void previous_key_from(const pqxx::field& key, const pqxx::field& until, PartyRow& p) {
  wire::SecretKey k;
  if (!std::strlen(key.c_str()) || !wire::SecretKey::from_hex(key.c_str(), k)) return;
  p.prev_key = k;
  p.prev_key_until_ms = until.as<std::uint64_t>();
}

PartyRow node_row(const pqxx::row& r) {
  PartyRow p;
  p.relay = false;
  p.id = id_from<wire::NodeTag>(r[0]);
  p.name = r[1].c_str();
  p.zone_id = r[2].as<int>();
  wire::SecretKey::from_hex(r[3].c_str(), p.key);
  p.key_epoch = static_cast<std::uint8_t>(r[4].as<int>());
  wire::IpAddr vip;
  if (wire::IpAddr::parse(r[5].c_str(), vip) && vip.family == wire::Family::v4)
    p.vip = vip.v4_host_order();
  p.local = parse_endpoint_array(r[6].c_str());
  p.observed = endpoint_from(r[7], r[8]);
  p.behind_nat = r[9].as<bool>();
  p.symmetric_nat = r[10].as<bool>();
  p.online = r[11].as<bool>();
  p.last_seen_ms = r[12].as<std::uint64_t>();
  previous_key_from(r[13], r[14], p);
  return p;
}

PartyRow relay_row(const pqxx::row& r) {
  PartyRow p;
  p.relay = true;
  p.id = id_from<wire::NodeTag>(r[0]);
  p.name = r[1].c_str();
  wire::SecretKey::from_hex(r[2].c_str(), p.key);
  p.key_epoch = static_cast<std::uint8_t>(r[3].as<int>());
  p.local = parse_endpoint_array(r[4].c_str());
  p.observed = endpoint_from(r[5], r[6]);
  p.online = r[7].as<bool>();
  p.last_seen_ms = r[8].as<std::uint64_t>();
  p.active_paths = r[9].as<std::uint32_t>();
  p.load_permille = static_cast<std::uint16_t>(r[10].as<int>());
  previous_key_from(r[11], r[12], p);
  return p;
}

// A path end's address for its peer (paths.initiator_view, responder_view):
// NULL (read as "") is 0, "not chosen".
std::uint32_t view_from(const char* text) {
  wire::IpAddr a;
  if (!*text || !wire::IpAddr::parse(text, a) || a.family != wire::Family::v4) return 0;
  return a.v4_host_order();
}

state::Path path_row(const pqxx::row& r) {
  state::Path p;
  p.id = id_from<wire::PathTag>(r[0]);
  p.initiator = id_from<wire::NodeTag>(r[1]);
  if (std::strlen(r[2].c_str())) p.responder = id_from<wire::NodeTag>(r[2]);
  p.responder_fqdn = r[3].c_str();
  if (std::strlen(r[4].c_str())) wire::IpAddr::parse(r[4].c_str(), p.general_addr);
  p.route = static_cast<wire::RouteType>(r[5].as<int>());
  p.first = static_cast<wire::FirstSender>(r[6].as<int>());
  if (std::strlen(r[7].c_str())) p.relay = id_from<wire::NodeTag>(r[7]);
  p.relay_endpoint = endpoint_from(r[8], r[9]);
  p.key_epoch = static_cast<std::uint8_t>(r[10].as<int>());
  p.state = static_cast<state::PathState>(r[11].as<int>());
  p.created_ms = r[12].as<std::uint64_t>();
  p.updated_ms = r[13].as<std::uint64_t>();
  p.remote = r[14].as<bool>();
  p.peer_view[0] = view_from(r[15].c_str());
  p.peer_view[1] = view_from(r[16].c_str());
  p.initiator_fqdn = r[17].c_str();
  return p;
}

// A PostgreSQL array literal of quoted elements.  IDs, addresses and names
// hold no quote or backslash, but notes and names come from the wire, so
// both are escaped rather than trusted.
std::string text_array(const std::vector<std::string>& items) {
  std::string s = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) s += ',';
    s += '"';
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += '"';
  }
  return s + "}";
}

std::string vip_text(std::uint32_t vip) { return wire::Vip{vip}.to_string(); }
std::string view_text(std::uint32_t v) { return v ? vip_text(v) : std::string(); }

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::deque<std::string>& q)
      : pqxx::notification_receiver(c, kChangeChannel), q_(q) {}
  void operator()(const std::string& payload, int) override { q_.push_back(payload); }

 private:
  std::deque<std::string>& q_;
};

}  // namespace

struct Store::Impl {
  std::string url;
  std::unique_ptr<pqxx::connection> conn;
  std::deque<std::string> notes;
  std::unique_ptr<Receiver> receiver;
  bool listening = false;
  std::string sender;  // non-empty: apply() notifies what it changed
  bool async_notes = false;  // notes commit without the flush; a flush mark follows

  pqxx::connection& c() {
    if (!conn || !conn->is_open()) {
      receiver.reset();
      conn.reset();
      // Ask libpq first whether the server accepts connections: libpqxx 6.4
      // leaks a PGresult each time a connection attempt fails, and a DC
      // retries for as long as its database is down.
      if (PQping(url.c_str()) != PQPING_OK) throw Unavailable("database unavailable: no answer");
      try {
        conn = std::make_unique<pqxx::connection>(url);
        for (const auto& s : kStatements) conn->prepare(s.name, s.sql);
        if (listening) receiver = std::make_unique<Receiver>(*conn, notes);
      } catch (const pqxx::broken_connection& e) {
        conn.reset();
        throw Unavailable(std::string("database unavailable: ") + e.what());
      }
    }
    return *conn;
  }

  // Runs fn in a transaction, translating libpqxx errors by layer.
  template <class Tx, class F>
  auto run(F&& fn) {
    try {
      Tx tx(c());
      if constexpr (std::is_void_v<decltype(fn(tx))>) {
        fn(tx);
        tx.commit();
      } else {
        auto r = fn(tx);
        tx.commit();
        return r;
      }
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      throw Unavailable(std::string("database connection lost: ") + e.what());
    } catch (const pqxx::unique_violation& e) {
      throw Conflict(e.what());
    } catch (const pqxx::in_doubt_error& e) {
      conn.reset();
      throw Unavailable(std::string("commit in doubt: ") + e.what());
    }
  }
};

Store::Store(std::string url) : impl_(std::make_unique<Impl>()) { impl_->url = std::move(url); }
Store::~Store() = default;

void Store::connect() { impl_->c(); }
bool Store::connected() const noexcept { return impl_->conn && impl_->conn->is_open(); }

std::vector<ZoneRow> Store::ensure_zones(const std::vector<std::string>& names) {
  impl_->run<pqxx::work>([&](pqxx::work& tx) {
    for (const auto& n : names) tx.exec_prepared("zone_insert", n);
  });
  return load_zones();
}

std::vector<ZoneRow> Store::load_zones() {
  return impl_->run<pqxx::work>([](pqxx::work& tx) {
    std::vector<ZoneRow> out;
    for (const auto& r : tx.exec_prepared("zone_list"))
      out.push_back({r[0].as<int>(), r[1].c_str(), r[2].as<std::int64_t>()});
    return out;
  });
}

std::vector<PartyRow> Store::load_parties() {
  return impl_->run<pqxx::work>([](pqxx::work& tx) {
    std::vector<PartyRow> out;
    for (const auto& r : tx.exec_prepared("node_list")) out.push_back(node_row(r));
    for (const auto& r : tx.exec_prepared("relay_list")) out.push_back(relay_row(r));
    return out;
  });
}

std::optional<PartyRow> Store::load_party(const wire::NodeId& id) {
  return impl_->run<pqxx::work>([&](pqxx::work& tx) -> std::optional<PartyRow> {
    auto n = tx.exec_prepared("node_get", hex(id));
    if (!n.empty()) return node_row(n[0]);
    auto r = tx.exec_prepared("relay_get", hex(id));
    if (!r.empty()) return relay_row(r[0]);
    return std::nullopt;
  });
}

std::vector<PartyRow> Store::load_parties(const std::vector<wire::NodeId>& ids) {
  std::vector<std::string> hexes;
  for (const auto& id : ids) hexes.push_back(hex(id));
  const std::string arg = text_array(hexes);
  return impl_->run<pqxx::work>([&](pqxx::work& tx) {
    std::vector<PartyRow> out;
    for (const auto& r : tx.exec_prepared("node_get_many", arg)) out.push_back(node_row(r));
    for (const auto& r : tx.exec_prepared("relay_get_many", arg)) out.push_back(relay_row(r));
    return out;
  });
}

std::vector<state::Path> Store::load_paths(const std::vector<wire::PathId>& ids) {
  std::vector<std::string> hexes;
  for (const auto& id : ids) hexes.push_back(hex(id));
  const std::string arg = text_array(hexes);
  return impl_->run<pqxx::work>([&](pqxx::work& tx) {
    std::vector<state::Path> out;
    for (const auto& r : tx.exec_prepared("path_get_many", arg)) out.push_back(path_row(r));
    return out;
  });
}

std::optional<PartyRow> Store::load_party_by_name(const std::string& name, bool relay) {
  auto id = impl_->run<pqxx::work>([&](pqxx::work& tx) -> std::optional<wire::NodeId> {
    auto r = tx.exec_prepared(relay ? "relay_by_name" : "node_by_fqdn", name);
    if (r.empty()) return std::nullopt;
    return id_from<wire::NodeTag>(r[0][0]);
  });
  if (!id) return std::nullopt;
  return load_party(*id);
}

std::vector<state::Path> Store::load_paths() {
  return impl_->run<pqxx::work>([](pqxx::work& tx) {
    const auto deleted = tx.exec_prepared0("path_orphans_delete").affected_rows();
    const auto unlinked = tx.exec_prepared0("path_orphans_unlink").affected_rows();
    if (deleted || unlinked)
      spdlog::info("store: {} paths of removed nodes deleted, {} unlinked from removed relays",
                   deleted, unlinked);
    std::vector<state::Path> out;
    for (const auto& r : tx.exec_prepared("path_list")) out.push_back(path_row(r));
    return out;
  });
}


std::vector<std::uint32_t> Store::used_vips() {
  return impl_->run<pqxx::work>([](pqxx::work& tx) {
    std::vector<std::uint32_t> out;
    for (const auto& r : tx.exec_prepared("vip_list")) {
      wire::IpAddr a;
      if (wire::IpAddr::parse(r[0].c_str(), a) && a.family == wire::Family::v4)
        out.push_back((std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) |
                      (std::uint32_t{a.bytes[2]} << 8) | a.bytes[3]);
    }
    return out;
  });
}

void Store::insert_node(const wire::NodeId& id, const std::string& fqdn, int zone_id,
                        const wire::SecretKey& key, std::uint32_t vip) {
  impl_->run<pqxx::work>([&](pqxx::work& tx) {
    tx.exec_prepared("node_insert", hex(id), fqdn, zone_id, key.to_hex(), vip_text(vip));
    tx.exec_prepared("zone_bump", zone_id);
    tx.exec_prepared("notify", "node " + hex(id));
  });
}

void Store::insert_relay(const wire::NodeId& id, const std::string& name,
                         const wire::SecretKey& key) {
  impl_->run<pqxx::work>([&](pqxx::work& tx) {
    tx.exec_prepared("relay_insert", hex(id), name, key.to_hex());
    tx.exec_prepared("notify", "relay " + hex(id));
  });
}

bool Store::rekey_party(const wire::NodeId& id, bool relay, const wire::SecretKey& key,
                        std::uint8_t from_epoch, std::uint32_t grace_s) {
  return impl_->run<pqxx::work>([&](pqxx::work& tx) {
    const bool found = tx.exec_prepared(relay ? "relay_rekey" : "node_rekey", hex(id),
                                        key.to_hex(), static_cast<int>(from_epoch),
                                        static_cast<int>(grace_s))
                           .affected_rows() == 1;
    if (found) tx.exec_prepared("notify", std::string(relay ? "relay " : "node ") + hex(id));
    return found;
  });
}

bool Store::remove_party(const wire::NodeId& id, bool relay) {
  return impl_->run<pqxx::work>([&](pqxx::work& tx) {
    bool found = false;
    if (relay) {
      found = tx.exec_prepared("relay_delete", hex(id)).affected_rows() > 0;
    } else {
      auto r = tx.exec_prepared("node_delete", hex(id));
      found = !r.empty();
      if (found) tx.exec_prepared("zone_bump", r[0][0].as<int>());
    }
    if (found) tx.exec_prepared("notify", std::string(relay ? "relay " : "node ") + hex(id));
    return found;
  });
}

namespace {

struct Apply {
  pqxx::work& tx;
  void operator()(const RegistrationWrite& w) const {
    const auto obs_addr = w.observed.empty() ? std::string() : w.observed.addr.to_string();
    if (w.relay)
      tx.exec_prepared("relay_register", hex(w.id), endpoint_array(w.local), obs_addr,
                       static_cast<int>(w.observed.port));
    else
      tx.exec_prepared("node_register", hex(w.id), endpoint_array(w.local), obs_addr,
                       static_cast<int>(w.observed.port), w.behind_nat, w.symmetric_nat);
  }
  void operator()(const SeenWrite& w) const {
    if (w.relay)
      tx.exec_prepared("relay_seen", hex(w.id), static_cast<long>(w.active_paths),
                       static_cast<int>(w.load_permille));
    else
      tx.exec_prepared("node_seen", hex(w.id));
  }
  void operator()(const OfflineWrite& w) const {
    tx.exec_prepared(w.relay ? "relay_offline" : "node_offline", hex(w.id));
  }
  void operator()(const KeyRetireWrite& w) const {
    tx.exec_prepared(w.relay ? "relay_key_retire" : "node_key_retire", hex(w.id),
                     static_cast<int>(w.key_epoch));
  }
  void operator()(const ZoneSerialWrite& w) const {
    tx.exec_prepared("zone_serial", w.zone_id, static_cast<long long>(w.serial));
  }
  void operator()(const PathWrite& w) const {
    const state::Path& p = w.path;
    tx.exec_prepared("path_upsert", hex(p.id), hex(p.initiator),
                     p.responder ? hex(*p.responder) : std::string(), p.responder_fqdn,
                     p.general_addr.family == wire::Family::none ? std::string()
                                                                 : p.general_addr.to_string(),
                     static_cast<int>(p.route), static_cast<int>(p.first),
                     p.relay ? hex(*p.relay) : std::string(),
                     p.relay_endpoint.empty() ? std::string() : p.relay_endpoint.addr.to_string(),
                     static_cast<int>(p.relay_endpoint.port), static_cast<int>(p.key_epoch),
                     static_cast<int>(p.state), p.remote, view_text(p.peer_view[0]),
                     view_text(p.peer_view[1]), p.initiator_fqdn);
  }
  void operator()(const GeneralHostClaim& c) const {
    const std::string pool = config::Ipv4Prefix{c.pool_network, c.pool_length}.to_string();
    // Every address but the network's and the broadcast (as for nodes' VIPs).
    const std::uint32_t usable = c.pool_length >= 31 ? 0 : (1u << (32 - c.pool_length)) - 2;
    *c.result = {};
    if (usable == 0) {
      c.result->exhausted = true;
      return;
    }
    const std::string first = vip_text(c.pool_network + 1);
    // Each pass either finds the name, takes an address, or lost a race to
    // another DC process that committed meanwhile (the name, or the
    // address).  A lost race moves the search's start elsewhere in the
    // pool, so that two processes claiming new names at once stop going for
    // the same address.
    std::uint32_t start = c.start;
    for (int pass = 0; pass < 8; ++pass, start = start * 2654435761u + 0x9e3779b9u) {
      if (auto r = tx.exec_prepared("general_host_touch", c.name, pool); !r.empty())
        return void(c.result->vip = vip_of(r[0][0].c_str()));
      tx.exec_prepared("general_host_drop", c.name, pool);
      if (auto r = tx.exec_prepared("general_host_insert", c.name, first,
                                    static_cast<long long>(usable),
                                    static_cast<long long>(start % usable));
          !r.empty())
        return void(c.result->vip = vip_of(r[0][0].c_str()));
      if (tx.exec_prepared("general_host_count", pool)[0][0].as<long long>() >= usable)
        return void(c.result->exhausted = true);
    }
  }
  void operator()(const GeneralHostSweep& w) const {
    *w.forgotten = tx.exec_prepared0("general_host_sweep",
                                     config::Ipv4Prefix{w.pool_network, w.pool_length}.to_string(),
                                     static_cast<long long>(w.hold_s))
                       .affected_rows();
  }
  static std::uint32_t vip_of(const char* text) {
    wire::IpAddr a;
    if (!wire::IpAddr::parse(text, a) || a.family != wire::Family::v4) return 0;
    return (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) |
           (std::uint32_t{a.bytes[2]} << 8) | a.bytes[3];
  }
  // Store::apply batches deletions itself; this serves the visit's completeness.
  void operator()(const PathDelete& w) const {
    tx.exec_prepared("path_delete_bulk", text_array({hex(w.id)}));
  }
};

}  // namespace

namespace {

template <class T>
std::string plain_array(const std::vector<T>& items) {
  std::string s = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) s += ',';
    if constexpr (std::is_same_v<T, bool>) s += items[i] ? 't' : 'f';
    else s += std::to_string(items[i]);
  }
  return s + "}";
}

// What a batch changes, each row once, by the kind of note that tells of
// it.  A node's registration is carried whole (reg) when it is the batch's
// only kind of write to that row; any other write to the row makes the
// receiver reload it instead (parties), which is right whatever the order.
struct ChangedIds {
  std::vector<wire::NodeId> parties, seen;
  std::vector<const RegistrationWrite*> registrations;  // nullptr: moved to parties
  // Each path's last operation in the batch is what the table holds after
  // it: its row (written) or nullptr (deleted).
  std::vector<wire::PathId> paths;
  std::unordered_map<wire::PathId, const state::Path*> path_last;
  std::set<wire::NodeId> p_set, s_set;
  std::unordered_map<wire::NodeId, std::size_t> r_index;
  void party(const wire::NodeId& id) {
    if (!p_set.insert(id).second) return;
    parties.push_back(id);
    if (auto it = r_index.find(id); it != r_index.end()) registrations[it->second] = nullptr;
  }
  void operator()(const RegistrationWrite& w) {
    if (w.relay || p_set.count(w.id)) return party(w.id);
    auto [it, fresh] = r_index.try_emplace(w.id, registrations.size());
    if (fresh) registrations.push_back(&w);
    else registrations[it->second] = &w;  // the last one is what the row holds
  }
  void operator()(const OfflineWrite& w) { party(w.id); }
  void operator()(const KeyRetireWrite& w) { party(w.id); }
  void operator()(const SeenWrite& w) {
    if (s_set.insert(w.id).second) seen.push_back(w.id);
  }
  void operator()(const PathWrite& w) { path(w.path.id, &w.path); }
  void operator()(const PathDelete& w) { path(w.id, nullptr); }
  void path(const wire::PathId& id, const state::Path* row) {
    auto [it, fresh] = path_last.try_emplace(id, row);
    if (fresh) paths.push_back(id);
    else it->second = row;
  }
  void operator()(const ZoneSerialWrite&) {}
  // General hosts are read from the table when needed, never held in a view.
  void operator()(const GeneralHostClaim&) {}
  void operator()(const GeneralHostSweep&) {}
};

// Node registrations of one batch, collapsed to the last one per node.
class RegistrationBulk {
 public:
  void add(const RegistrationWrite& w) {
    auto [it, fresh] = index_.try_emplace(w.id, rows_.size());
    if (fresh) rows_.push_back(&w);
    else rows_[it->second] = &w;
  }
  bool empty() const { return rows_.empty(); }
  void flush(pqxx::work& tx) {
    if (rows_.empty()) return;
    std::vector<std::string> ids, locals, addrs;
    std::vector<int> ports;
    std::vector<bool> nat, sym;
    for (const RegistrationWrite* w : rows_) {
      ids.push_back(hex(w->id));
      std::string l;
      for (const auto& e : w->local) l += (l.empty() ? "" : " ") + endpoint_text(e);
      locals.push_back(l);
      addrs.push_back(w->observed.empty() ? std::string() : w->observed.addr.to_string());
      ports.push_back(w->observed.port);
      nat.push_back(w->behind_nat);
      sym.push_back(w->symmetric_nat);
    }
    tx.exec_prepared("node_register_bulk", text_array(ids), text_array(locals), text_array(addrs),
                     plain_array(ports), plain_array(nat), plain_array(sym));
    rows_.clear();
    index_.clear();
  }

 private:
  std::vector<const RegistrationWrite*> rows_;
  std::unordered_map<wire::NodeId, std::size_t> index_;
};

// Path writes of one batch, collapsed to the last one per path (one
// INSERT ... ON CONFLICT may touch a row only once).
class PathBulk {
 public:
  void add(const state::Path& p) {
    auto [it, fresh] = index_.try_emplace(p.id, rows_.size());
    if (fresh) rows_.push_back(&p);
    else rows_[it->second] = &p;
  }
  // The path is deleted later in this batch: its pending write would only
  // be undone, so it is dropped.
  void cancel(const wire::PathId& id) {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    rows_[it->second] = nullptr;
    index_.erase(it);
  }
  void flush(pqxx::work& tx) {
    if (index_.empty()) {
      rows_.clear();
      return;
    }
    std::vector<std::string> id, ini, resp, fqdn, gaddr, relay, raddr, iview, rview, ifqdn;
    std::vector<int> route, first, rport, epoch, state;
    std::vector<bool> remote;
    for (const state::Path* p : rows_) {
      if (!p) continue;  // cancelled
      id.push_back(hex(p->id));
      ini.push_back(hex(p->initiator));
      resp.push_back(p->responder ? hex(*p->responder) : std::string());
      fqdn.push_back(p->responder_fqdn);
      gaddr.push_back(p->general_addr.family == wire::Family::none ? std::string()
                                                                    : p->general_addr.to_string());
      route.push_back(static_cast<int>(p->route));
      first.push_back(static_cast<int>(p->first));
      relay.push_back(p->relay ? hex(*p->relay) : std::string());
      raddr.push_back(p->relay_endpoint.empty() ? std::string()
                                                : p->relay_endpoint.addr.to_string());
      rport.push_back(p->relay_endpoint.port);
      epoch.push_back(p->key_epoch);
      state.push_back(static_cast<int>(p->state));
      remote.push_back(p->remote);
      iview.push_back(view_text(p->peer_view[0]));
      rview.push_back(view_text(p->peer_view[1]));
      ifqdn.push_back(p->initiator_fqdn);
    }
    tx.exec_prepared("path_upsert_bulk", text_array(id), text_array(ini), text_array(resp),
                     text_array(fqdn), text_array(gaddr), plain_array(route), plain_array(first),
                     text_array(relay), text_array(raddr), plain_array(rport), plain_array(epoch),
                     plain_array(state), plain_array(remote), text_array(iview), text_array(rview),
                     text_array(ifqdn));
    rows_.clear();
    index_.clear();
  }

 private:
  std::vector<const state::Path*> rows_;
  std::unordered_map<wire::PathId, std::size_t> index_;
};

// Path deletions of one batch, in one statement.  Directions supersede
// older paths between the same two nodes (docs/dc.md), so under load a
// batch holds about as many deletions as writes; one statement each would
// cost more than the rest of the batch.
class PathDeleteBulk {
 public:
  void add(const wire::PathId& id) {
    if (set_.insert(id).second) ids_.push_back(hex(id));
  }
  bool pending(const wire::PathId& id) const { return set_.count(id) != 0; }
  void flush(pqxx::work& tx) {
    if (ids_.empty()) return;
    tx.exec_prepared("path_delete_bulk", text_array(ids_));
    ids_.clear();
    set_.clear();
  }

 private:
  std::vector<std::string> ids_;
  std::set<wire::PathId> set_;
};

}  // namespace

void Store::set_notify_sender(std::string token, bool async_notes) {
  impl_->sender = std::move(token);
  impl_->async_notes = async_notes && !impl_->sender.empty();
}

void Store::forget_flush_marks() {
  if (impl_->sender.empty()) return;
  impl_->run<pqxx::nontransaction>(
      [&](pqxx::nontransaction& tx) { tx.exec_prepared("flush_marks_forget", impl_->sender); });
}

void Store::apply(const std::vector<const WriteOp*>& ops) {
  bool flush_after = false;
  impl_->run<pqxx::work>([&](pqxx::work& tx) {
    RegistrationBulk bulk;
    PathBulk paths;
    PathDeleteBulk deletions;
    ChangedIds changed;
    if (!impl_->sender.empty())
      for (const WriteOp* op : ops) std::visit(changed, *op);
    for (const WriteOp* op : ops) {
      if (const auto* r = std::get_if<RegistrationWrite>(op); r && !r->relay) {
        bulk.add(*r);
        continue;
      }
      // The order of a path's writes and its deletion is kept: a deletion
      // cancels the path's pending write, and a write of a path whose
      // deletion is pending runs after that deletion.
      if (const auto* w = std::get_if<PathWrite>(op)) {
        if (deletions.pending(w->path.id)) deletions.flush(tx);
        paths.add(w->path);
        continue;
      }
      if (const auto* d = std::get_if<PathDelete>(op)) {
        paths.cancel(d->id);
        deletions.add(d->id);
        continue;
      }
      // Keep the order of operations on the same rows: pending node
      // registrations go before another write to a node row.  Path and
      // relay writes touch other rows and do not break the batch.
      const bool node_row = (std::holds_alternative<OfflineWrite>(*op) &&
                             !std::get<OfflineWrite>(*op).relay) ||
                            (std::holds_alternative<KeyRetireWrite>(*op) &&
                             !std::get<KeyRetireWrite>(*op).relay) ||
                            (std::holds_alternative<SeenWrite>(*op) &&
                             !std::get<SeenWrite>(*op).relay);
      if (node_row) bulk.flush(tx);
      std::visit(Apply{tx}, *op);
    }
    bulk.flush(tx);
    deletions.flush(tx);
    paths.flush(tx);
    // Delivered only if this transaction commits (PostgreSQL queues them
    // until COMMIT), so no process hears of a change that did not happen.
    std::vector<const RegistrationWrite*> carried;
    for (const RegistrationWrite* r : changed.registrations)
      if (r) carried.push_back(r);
    std::vector<std::string> notes;
    auto add = [&notes](std::vector<std::string> more) {
      for (auto& n : more) notes.push_back(std::move(n));
    };
    add(registration_notes(impl_->sender, carried, changed.parties));
    add(party_notes(impl_->sender, changed.parties));
    add(seen_notes(impl_->sender, changed.seen));
    std::vector<const state::Path*> written;
    std::vector<wire::PathId> gone, reload;
    for (const wire::PathId& id : changed.paths) {
      const state::Path* row = changed.path_last.at(id);
      if (row) written.push_back(row);
      else gone.push_back(id);
    }
    add(path_row_notes(impl_->sender, written, reload));
    add(gone_notes(impl_->sender, gone));
    add(path_notes(impl_->sender, reload));
    // One statement, not one round trip per note: the transaction (and the
    // writes waiting behind it) is shorter by that many round trips.
    if (notes.empty()) return;
    flush_after = impl_->async_notes;
    tx.exec_prepared(flush_after ? "notify_many_async" : "notify_many", text_array(notes));
  });
  // The batch has committed but may not be on disk yet: this synchronous
  // commit flushes the WAL through it (its own record lies after the
  // batch's), and nothing is acknowledged before it returns.  Should it
  // fail, the batch counts as failed and its senders retry; every write is
  // an idempotent upsert or delete.
  if (flush_after)
    impl_->run<pqxx::nontransaction>(
        [&](pqxx::nontransaction& tx) { tx.exec_prepared("flush_mark", impl_->sender); });
}

void Store::listen() {
  impl_->listening = true;
  if (impl_->conn && impl_->conn->is_open() && !impl_->receiver)
    impl_->receiver = std::make_unique<Receiver>(*impl_->conn, impl_->notes);
  impl_->c();
}

std::vector<std::string> Store::wait_notifications(int timeout_ms) {
  try {
    auto& c = impl_->c();
    if (impl_->notes.empty()) {
      c.await_notification(timeout_ms / 1000, (timeout_ms % 1000) * 1000L);
      c.get_notifs();
    }
  } catch (const pqxx::broken_connection& e) {
    impl_->receiver.reset();
    impl_->conn.reset();
    throw Unavailable(std::string("database connection lost: ") + e.what());
  }
  std::vector<std::string> out(impl_->notes.begin(), impl_->notes.end());
  impl_->notes.clear();
  return out;
}

}  // namespace ntm::dc::store
