// SPDX-License-Identifier: MIT
// The DC's PostgreSQL store: one connection, every statement prepared by
// name when the connection opens (queries are listed at the top of
// store.cpp), transactions only through read()/write()-style member
// functions.  Only store/ includes <pqxx/pqxx>.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/records.hpp"

namespace ntm::dc::store {

// The database could not be reached or the connection broke.  Callers
// answer "try again" and the store reconnects on the next call.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A uniqueness rule was violated (FQDN, VIP or name already taken).
class Conflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Notification channel; its payloads are store::ChangeNote (change_note.hpp).
inline constexpr const char* kChangeChannel = "ntm_changes";

class Store {
 public:
  explicit Store(std::string url);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // (Re)connects if needed; throws Unavailable.
  void connect();
  bool connected() const noexcept;

  // Inserts missing zones; returns all served zones with their IDs.
  std::vector<ZoneRow> ensure_zones(const std::vector<std::string>& names);
  std::vector<ZoneRow> load_zones();
  std::vector<PartyRow> load_parties();  // nodes and relays
  // Every path; first deletes rows whose node was removed while another
  // DC process wrote them (paths keep no foreign keys: migration 0003).
  std::vector<state::Path> load_paths();
  std::optional<PartyRow> load_party(const wire::NodeId& id);
  // The rows of these parties (nodes and relays) and paths that exist (and
  // are not closed): what another DC process changed.
  std::vector<PartyRow> load_parties(const std::vector<wire::NodeId>& ids);
  std::vector<state::Path> load_paths(const std::vector<wire::PathId>& ids);
  std::optional<PartyRow> load_party_by_name(const std::string& name, bool relay);
  std::vector<std::uint32_t> used_vips();

  // Enrollment.  Throw Conflict on a taken FQDN/VIP/name.
  void insert_node(const wire::NodeId& id, const std::string& fqdn, int zone_id,
                   const wire::SecretKey& key, std::uint32_t vip);
  void insert_relay(const wire::NodeId& id, const std::string& name, const wire::SecretKey& key);
  // Removes the party and its paths; notifies every DC process.  False if
  // there was no such party.
  bool remove_party(const wire::NodeId& id, bool relay);
  // A new key and the next key epoch for a party whose epoch is still
  // from_epoch; false if it was removed or re-keyed meanwhile.  Running DCs
  // are told.  grace_s 0: the old key is refused at once and the party is
  // marked offline (its running daemon holds the old key); else the old
  // key is kept for grace_s seconds beside the new one (migration 0007).
  bool rekey_party(const wire::NodeId& id, bool relay, const wire::SecretKey& key,
                   std::uint8_t from_epoch, std::uint32_t grace_s = 0);

  // Applies a batch in one transaction (group commit).  Throws on failure;
  // the caller then retries the operations one by one to isolate a bad one.
  // With a sender token set, the same transaction notifies the IDs of the
  // rows it changed (ChangeNote), so other DC processes hear of exactly
  // what committed, and only once it has.
  void apply(const std::vector<const WriteOp*>& ops);
  // async_notes (a DC cluster): a batch with notes commits without waiting
  // for its WAL flush, then a second, synchronous transaction writes this
  // sender's flush mark, which flushes the batch too; apply() returns after
  // both.  PostgreSQL holds its notify lock from before a notifying
  // commit to its end, so the members' flushes can now overlap (dc.md
  // §12.2).  Changes others hear of may still be lost if the database
  // crashes before the flush; what was acknowledged never is.
  void set_notify_sender(std::string token, bool async_notes = false);
  // Removes this sender's flush mark and any untouched for a day (a process
  // that died).  Throws Unavailable without a database.
  void forget_flush_marks();

  // Waits up to timeout_ms for change notifications; returns their payloads.
  std::vector<std::string> wait_notifications(int timeout_ms);
  void listen();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ntm::dc::store
