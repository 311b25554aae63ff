// SPDX-License-Identifier: MIT
// Typed errors of the wire layer.  Decoders and the crypto framing return
// one of these instead of throwing: a bad datagram is an expected event.
#pragma once

#include <cstdint>
#include <string_view>

namespace ntm::wire {

enum class Error : std::uint8_t {
  ok = 0,
  truncated,          // fewer bytes than the field or header needs
  trailing_bytes,     // bytes left after the last field
  bad_version,        // version byte is not NTM_VERSION
  bad_type,           // unknown message type
  bad_flags,          // reserved flag bits set, or unknown role for the domain
  bad_domain,         // type not allowed in this key domain / role
  bad_reserved,       // a reserved field is not zero
  bad_enum,           // an enumerated field holds an unknown value
  bad_length,         // a length field exceeds its limit
  bad_fqdn,           // FQDN violates RFC 1035 rules or is not canonical
  bad_address,        // address family unknown
  bad_text,           // text field holds non-printable bytes
  too_large,          // the message does not fit its limit or buffer
  auth_failed,        // AEAD tag mismatch: wrong key, flipped bit, forgery
  replayed,           // counter seen before or left of the window
  stale,              // timestamp outside the accepted clock skew
  counter_exhausted,  // the sender's counter reached its limit: re-key
  unknown_key,        // no key for this domain / id / epoch
  too_many_senders,   // replay state for this key is full of live instances
  crypto_failure,     // OpenSSL reported an internal error
};

// Stable lowercase name, for logs and error replies.
std::string_view to_string(Error e) noexcept;

}  // namespace ntm::wire
