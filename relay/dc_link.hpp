// SPDX-License-Identifier: MIT
// The RS's link to its DC (NODE_DC domain under K_rs): registration with
// back-off while the DC is unreachable, keepalives with the load, a new
// registration when the DC asks for one (or falls silent), and the Relay
// Directions that install paths, each answered with a Relay Response.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "config.hpp"
#include "ntm/wire/control_channel.hpp"
#include "relay_path.hpp"
#include "sink.hpp"
#include "stats.hpp"

namespace ntm::relay {

class DcLink {
 public:
  DcLink(const Config& cfg, PathTable& paths, Drops& drops);

  // A datagram whose header (peeked) is NODE_DC, role dc, id = our id,
  // from `from`: any member of the DC's cluster may direct us, and its
  // Relay Response goes back there (docs/operations.md "DC cluster").
  void on_datagram(std::span<const std::uint8_t> datagram, const wire::Endpoint& from, Sink& sink,
                   Now now);
  // Registration retries and keepalives; call at least every next_due_ms().
  void on_timer(Sink& sink, Now now);
  std::uint64_t next_due_ms() const noexcept { return next_send_ms_; }

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
};

}  // namespace ntm::relay
