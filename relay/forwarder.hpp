// SPDX-License-Identifier: MIT
// The RS's datagram entry point: every datagram on its UDP socket and
// every packet from its TUN comes here.  It peeks at the cleartext header
// and hands the datagram to the DC link, to path control (Tunnel and
// Update Requests), to forwarding (PATH capsules of a forward path, sent on
// unchanged) or to translation (capsules of a translate path, opened and
// written into the TUN; replies from the TUN sealed back to the MN).
// Anything malformed, unauthentic or foreign is a counted drop: never an
// answer, never an exception.  A forwarded datagram is neither copied nor
// allocated for.
#pragma once

#include <cstdint>
#include <span>

#include "config.hpp"
#include "dc_link.hpp"
#include "held_capsules.hpp"
#include "ntm/wire/header.hpp"
#include "relay_path.hpp"
#include "sink.hpp"
#include "stats.hpp"

namespace ntm::relay {

class Forwarder {
 public:
  Forwarder(const Config& cfg, PathTable& paths, DcLink& dc, Drops& drops)
      : cfg_(cfg), paths_(paths), dc_(dc), drops_(drops) {}

  // One datagram from the UDP socket; decrypted in place if it is a
  // translate path's capsule.
  void on_datagram(std::span<std::uint8_t> datagram, const wire::Endpoint& from, Sink& sink,
                   Now now) noexcept;
  // One packet read from the TUN into frame[NTM_HDR_LEN, NTM_HDR_LEN + len):
  // sealed in place towards its MN.
  void on_tun_packet(std::span<std::uint8_t> frame, std::size_t len, Sink& sink,
                     Now now) noexcept;

 private:
  void on_capsule(const wire::Header& h, std::span<std::uint8_t> datagram,
                  const wire::Endpoint& from, Sink& sink, Now now) noexcept;
  void translate(RelayPath& p, PathKeys& keys, const wire::Header& h,
                 std::span<std::uint8_t> datagram, const wire::Endpoint& from, Sink& sink,
                 Now now) noexcept;
  // Tunnel and Update Requests (path_control.cpp).
  void on_path_control(const wire::Header& h, std::span<const std::uint8_t> datagram,
                       const wire::Endpoint& from, Sink& sink, Now now);

  const Config& cfg_;
  PathTable& paths_;
  DcLink& dc_;
  Drops& drops_;
  // A moving end's capsules that arrived just before its Update Request.
  HeldCapsules held_;
};

}  // namespace ntm::relay
