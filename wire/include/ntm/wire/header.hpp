// SPDX-License-Identifier: MIT
// C++ view of struct ntm_hdr / struct ntm_ctl_hdr (wire.h), with strict
// decoding: version, type, flags, role and the type/domain table are all
// checked before anything else looks at a datagram.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "ntm/wire.h"
#include "ntm/wire/bytes.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::wire {

struct Header {
  MsgType type = MsgType::keepalive;
  KeyDomain domain = KeyDomain::node_dc;
  Role role = Role::node;
  std::uint8_t key_epoch = 0;
  std::uint32_t instance = 0;
  std::uint64_t counter = 0;
  std::array<std::uint8_t, NTM_ID_LEN> id{};
  bool operator==(const Header&) const = default;
};

struct ControlHeader {
  Header common;
  std::uint64_t timestamp_ms = 0;
  std::uint32_t txid = 0;
  bool operator==(const ControlHeader&) const = default;
};

void encode(const Header& h, Writer& w) noexcept;
void encode(const ControlHeader& h, Writer& w) noexcept;

// Decodes the 32-byte common header and validates it.
Error decode(Reader& r, Header& out) noexcept;
// Decodes the 48-byte control header; rejects the Capsulated Packet type
// and a non-zero reserved field.
Error decode(Reader& r, ControlHeader& out) noexcept;

// Peeks at the start of a datagram without authenticating anything: for
// choosing the key (and, on the RS, the path) before opening.
Error peek_header(std::span<const std::uint8_t> datagram, Header& out) noexcept;
Error peek_control_header(std::span<const std::uint8_t> datagram, ControlHeader& out) noexcept;

}  // namespace ntm::wire
