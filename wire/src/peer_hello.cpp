// SPDX-License-Identifier: MIT
#include "ntm/wire/peer_hello.hpp"

#include "ntm/wire/bytes.hpp"
#include "ntm/wire/messages.hpp"

namespace ntm::wire {

namespace {
constexpr std::uint8_t kReply = 0x01;
}

std::size_t encode_peer_hello(const ControlHeader& h, const PeerHello& m,
                              std::span<std::uint8_t> out, Error& err) noexcept {
  err = Error::ok;
  if (h.common.type != MsgType::peer_hello || h.common.domain != KeyDomain::dc_peer ||
      !allowed(h.common.type, h.common.domain, h.common.role))
    err = Error::bad_type;
  else if (m.certificate.empty() || m.certificate.size() > kMaxCertificate)
    err = Error::bad_length;
  if (err != Error::ok) return 0;
  Writer w(out);
  encode(h, w);
  w.u8(m.reply ? kReply : 0);
  w.u16(static_cast<std::uint16_t>(m.certificate.size()));
  w.bytes(m.certificate);
  err = w.error();
  return err == Error::ok ? w.size() : 0;
}

Error decode_peer_hello(std::span<const std::uint8_t> datagram, ControlHeader& h, PeerHello& out) {
  Reader r(datagram);
  if (Error e = decode(r, h); e != Error::ok) return e;
  if (h.common.type != MsgType::peer_hello) return Error::bad_type;
  std::uint8_t flags = 0;
  std::uint16_t len = 0;
  if (!r.u8(flags) || !r.u16(len)) return r.error();
  if ((flags & ~kReply) != 0) return Error::bad_flags;
  if (len == 0 || len > kMaxCertificate) return Error::bad_length;
  out.reply = (flags & kReply) != 0;
  out.certificate.resize(len);
  if (!r.bytes(out.certificate)) return r.error();
  return r.finish();
}

}  // namespace ntm::wire
