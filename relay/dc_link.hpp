// SPDX-License-Identifier: MIT
// The RS's link to its DC (NODE_DC domain under K_rs): registration with
// back-off while the DC is unreachable, keepalives with the load, a new
// registration when the DC asks for one (or falls silent), and the Relay
// Directions that install paths, each answered with a Relay Response.
// In a DC cluster the link has a home member and fails over to the next
// one when the home leaves a message unanswered for kDcFailoverMs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "ntm/wire/control_channel.hpp"
#include "relay_path.hpp"
#include "sink.hpp"
#include "stats.hpp"

namespace ntm::relay {

// How long the home member may leave a registration or keepalive
// unanswered before the link registers with the next member: the same
// bound as ntmd's (docs/operations.md "Failover").
inline constexpr std::uint64_t kDcFailoverMs = 3000;

class DcLink {
 public:
  DcLink(const Config& cfg, PathTable& paths, Drops& drops);

  // A datagram whose header (peeked) is NODE_DC, role dc, id = our id,
  // from `from`: any member of the DC's cluster may direct us, and its
  // Relay Response goes back there (docs/operations.md "DC cluster").
  void on_datagram(std::span<const std::uint8_t> datagram, const wire::Endpoint& from, Sink& sink,
                   Now now);
  // Registration retries, keepalives and the failover check; call at
  // least every next_due_ms().
  void on_timer(Sink& sink, Now now);
  std::uint64_t next_due_ms() const noexcept;

  // The member we register with now, and how often we moved to another.
  const wire::Endpoint& home() const noexcept { return members_[home_]; }
  std::uint64_t failovers() const noexcept { return failovers_; }

  bool registered() const noexcept { return registered_; }
  // True once, after the first successful registration (the ready line).
  bool take_first_registration() noexcept;
  std::uint64_t registrations() const noexcept { return registrations_; }
  const wire::Endpoint& observed() const noexcept { return observed_; }

  // The relay–DC key was replaced (`ntm-dc relay rekey`, then SIGHUP):
  // a new channel under it and a registration at once; carried paths keep
  // their keys.  False: the same key and epoch, nothing done.
  bool reload_key(const wire::SecretKey& key, std::uint8_t key_epoch, Now now);

  // Installs (or re-answers) one Relay Direction; the answer's status.
  // Public for the tests and the fuzzer.
  wire::Status install(const wire::RelayDirection& d, Now now);

 private:
  void send(const wire::Body& body, std::uint32_t txid, Sink& sink, Now now,
            const wire::Endpoint* to = nullptr);
  void register_now(Sink& sink, Now now);
  void lost(const char* why, Now now);
  // A message to the home that wants an answer left at `now`.
  void note_sent_home(Now now);
  // True when it moved to the next member (and registered there).
  bool check_failover(Sink& sink, Now now);

  const Config& cfg_;
  PathTable& paths_;
  Drops& drops_;
  // The key in force (cfg_'s until a reload_key).
  wire::SecretKey key_;
  std::uint8_t key_epoch_ = 0;
  wire::ControlChannel channel_;
  bool registered_ = false;
  bool announced_ = false;
  bool announce_pending_ = false;
  std::uint64_t registrations_ = 0;
  std::uint32_t next_txid_ = 1;
  std::uint32_t reg_txid_ = 0;
  std::uint64_t backoff_ms_ = 0;
  std::uint64_t next_send_ms_ = 0;
  std::uint64_t keepalive_ms_ = 15'000;
  std::uint64_t lifetime_ms_ = 60'000;
  std::uint64_t last_heard_ms_ = 0;
  std::uint32_t attempts_ = 0;
  wire::Endpoint observed_;
  // DC cluster: the members in failover order (cfg_.dc_members, or dc
  // alone), the home's index, and since when the home owes us an answer
  // (0: it owes none).
  std::vector<wire::Endpoint> members_;
  std::size_t home_ = 0;
  std::uint64_t waiting_since_ms_ = 0;
  std::uint64_t failovers_ = 0;
};

}  // namespace ntm::relay
