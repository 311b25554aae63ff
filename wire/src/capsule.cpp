// SPDX-License-Identifier: MIT
#include "ntm/wire/capsule.hpp"

namespace ntm::wire {

namespace {

// Capsules carry no timestamp; a sender instance's slot is only given up
// after an hour of silence (in practice a path has one or two instances).
constexpr std::uint64_t kCapsuleEvictMs = 3'600'000;

}  // namespace

CapsuleSealer::CapsuleSealer(const SecretKey& path_key, Role role, const PathId& path,
                             std::uint8_t key_epoch, std::uint32_t instance)
    : aead_(derive_key(path_key, KeyDomain::path, role, Purpose::capsule, key_epoch, path.bytes)) {
  header_.type = MsgType::capsulated_packet;
  header_.domain = KeyDomain::path;
  header_.role = role;
  header_.key_epoch = key_epoch;
  header_.instance = instance;
  header_.id = path.bytes;
}

std::size_t CapsuleSealer::seal(std::span<std::uint8_t> frame, std::size_t payload_len,
                                Error& err) noexcept {
  if (payload_len > NTM_MAX_INNER || frame.size() < NTM_CAPSULE_OVERHEAD + payload_len) {
    err = Error::too_large;
    return 0;
  }
  if (next_counter_ >= NTM_COUNTER_REJECT_AFTER) {
    err = Error::counter_exhausted;
    return 0;
  }
  header_.counter = next_counter_;
  Writer w(frame.first(NTM_HDR_LEN));
  encode(header_, w);
  err = aead_.seal(Nonce(frame.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN), frame.first(NTM_HDR_LEN),
                   frame.subspan(NTM_HDR_LEN, payload_len),
                   Tag(frame.data() + NTM_HDR_LEN + payload_len, NTM_TAG_LEN));
  if (err != Error::ok) return 0;
  ++next_counter_;
  return NTM_CAPSULE_OVERHEAD + payload_len;
}

CapsuleOpener::CapsuleOpener(const SecretKey& path_key, Role peer_role, const PathId& path,
                             std::uint8_t key_epoch)
    : aead_(derive_key(path_key, KeyDomain::path, peer_role, Purpose::capsule, key_epoch,
                       path.bytes)),
      peer_role_(peer_role),
      path_(path),
      key_epoch_(key_epoch) {}

Error CapsuleOpener::open(std::span<std::uint8_t> datagram, std::span<std::uint8_t>& payload,
                          std::uint64_t now_ms) noexcept {
  Header h;
  if (Error e = peek_header(datagram, h); e != Error::ok) return e;
  if (h.type != MsgType::capsulated_packet) return Error::bad_type;
  if (datagram.size() < NTM_CAPSULE_OVERHEAD) return Error::truncated;
  if (datagram.size() > NTM_CAPSULE_OVERHEAD + NTM_MAX_INNER) return Error::too_large;
  if (h.role != peer_role_) return Error::bad_domain;
  if (h.key_epoch != key_epoch_ || h.id != path_.bytes) return Error::unknown_key;
  if (!guard_.would_accept(h.instance, h.counter)) return Error::replayed;
  const std::size_t len = datagram.size() - NTM_CAPSULE_OVERHEAD;
  auto body = datagram.subspan(NTM_HDR_LEN, len);
  Error e = aead_.open(Nonce(datagram.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN),
                       datagram.first(NTM_HDR_LEN), body,
                       ConstTag(datagram.data() + NTM_HDR_LEN + len, NTM_TAG_LEN));
  if (e != Error::ok) return e;
  if (Error r = guard_.accept(h.instance, h.counter, now_ms, kCapsuleEvictMs); r != Error::ok)
    return r;
  payload = body;
  return Error::ok;
}

}  // namespace ntm::wire
