// SPDX-License-Identifier: MIT
#include "ntm/wire/header.hpp"

#include "ntm/wire/messages.hpp"

namespace ntm::wire {

void encode(const Header& h, Writer& w) noexcept {
  w.u8(NTM_VERSION);
  w.u8(static_cast<std::uint8_t>(h.type));
  w.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(h.domain) |
                                 (static_cast<std::uint8_t>(h.role) << NTM_FLAG_ROLE_SHIFT)));
  w.u8(h.key_epoch);
  w.u32(h.instance);
  w.u64(h.counter);
  w.bytes(h.id);
}

void encode(const ControlHeader& h, Writer& w) noexcept {
  encode(h.common, w);
  w.u64(h.timestamp_ms);
  w.u32(h.txid);
  w.u32(0);  // reserved
}

Error decode(Reader& r, Header& out) noexcept {
  std::uint8_t version = 0, type = 0, flags = 0;
  if (!r.u8(version) || !r.u8(type) || !r.u8(flags) || !r.u8(out.key_epoch) ||
      !r.u32(out.instance) || !r.u64(out.counter) || !r.bytes(out.id))
    return r.error();
  if (version != NTM_VERSION) return r.fail(Error::bad_version), r.error();
  out.type = static_cast<MsgType>(type);
  if (!is_known(out.type)) return r.fail(Error::bad_type), r.error();
  if (flags & NTM_FLAG_RESERVED_MASK) return r.fail(Error::bad_flags), r.error();
  out.domain = static_cast<KeyDomain>(flags & NTM_FLAG_DOMAIN_MASK);
  out.role = static_cast<Role>((flags & NTM_FLAG_ROLE_MASK) >> NTM_FLAG_ROLE_SHIFT);
  if (!role_valid(out.domain, out.role)) return r.fail(Error::bad_flags), r.error();
  if (!allowed(out.type, out.domain, out.role)) return r.fail(Error::bad_domain), r.error();
  if (out.counter >= NTM_COUNTER_REJECT_AFTER) return r.fail(Error::counter_exhausted), r.error();
  return Error::ok;
}

Error decode(Reader& r, ControlHeader& out) noexcept {
  if (Error e = decode(r, out.common); e != Error::ok) return e;
  if (out.common.type == MsgType::capsulated_packet) return r.fail(Error::bad_type), r.error();
  std::uint32_t reserved = 0;
  if (!r.u64(out.timestamp_ms) || !r.u32(out.txid) || !r.u32(reserved)) return r.error();
  if (reserved != 0) return r.fail(Error::bad_reserved), r.error();
  return Error::ok;
}

Error peek_header(std::span<const std::uint8_t> datagram, Header& out) noexcept {
  Reader r(datagram);
  return decode(r, out);
}

Error peek_control_header(std::span<const std::uint8_t> datagram, ControlHeader& out) noexcept {
  Reader r(datagram);
  return decode(r, out);
}

}  // namespace ntm::wire
