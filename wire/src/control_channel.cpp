// SPDX-License-Identifier: MIT
#include "ntm/wire/control_channel.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace ntm::wire {

std::uint32_t new_instance() {
  std::uint32_t v = 0;
  while (v == 0) random_bytes({reinterpret_cast<std::uint8_t*>(&v), sizeof v});
  return v;
}

std::uint64_t initial_counter(std::uint64_t now_ns) { return now_ns; }

ControlChannel::ControlChannel(const SecretKey& base, const ChannelConfig& cfg)
    : cfg_(cfg),
      tx_(derive_key(base, cfg.domain, cfg.tx_role, Purpose::control, cfg.key_epoch, cfg.tx_id)),
      rx_(derive_key(base, cfg.domain, cfg.rx_role, Purpose::control, cfg.key_epoch, cfg.rx_id)),
      next_counter_(cfg.first_counter) {}

std::size_t ControlChannel::seal(const Body& body, std::uint32_t txid, std::uint64_t now_ms,
                                 std::span<std::uint8_t> out, Error& err) noexcept {
  err = Error::ok;
  const MsgType type = type_of(body);
  if (!allowed(type, cfg_.domain, cfg_.tx_role)) {
    err = Error::bad_domain;
    return 0;
  }
  if (next_counter_ >= NTM_COUNTER_REJECT_AFTER) {
    err = Error::counter_exhausted;
    return 0;
  }
  const std::size_t limit = std::min<std::size_t>(out.size(), NTM_MAX_CONTROL);
  if (limit < NTM_CTL_HDR_LEN + NTM_TAG_LEN) {
    err = Error::too_large;
    return 0;
  }
  ControlHeader h;
  h.common = {type, cfg_.domain, cfg_.tx_role, cfg_.key_epoch, cfg_.instance, next_counter_,
              cfg_.tx_id};
  h.timestamp_ms = now_ms;
  h.txid = txid;
  Writer w(out.first(NTM_CTL_HDR_LEN));
  encode(h, w);
  auto body_space = out.subspan(NTM_CTL_HDR_LEN, limit - NTM_CTL_HDR_LEN - NTM_TAG_LEN);
  const std::size_t body_len = encode_body(body, body_space, err);
  if (err != Error::ok) return 0;
  // Nonce = header bytes 4..15 (instance || counter), authenticated as AAD.
  err = tx_.seal(Nonce(out.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN), out.first(NTM_CTL_HDR_LEN),
                 body_space.first(body_len), Tag(out.data() + NTM_CTL_HDR_LEN + body_len, NTM_TAG_LEN));
  if (err != Error::ok) return 0;
  ++next_counter_;  // consumed even if the caller never sends: never reuse a nonce
  return NTM_CTL_HDR_LEN + body_len + NTM_TAG_LEN;
}

Error ControlChannel::open(std::span<const std::uint8_t> datagram, std::uint64_t now_ms,
                           Received& out) {
  if (datagram.size() > NTM_MAX_CONTROL) return Error::too_large;
  ControlHeader h;
  if (Error e = peek_control_header(datagram, h); e != Error::ok) return e;
  if (datagram.size() < NTM_CTL_HDR_LEN + NTM_TAG_LEN) return Error::truncated;
  if (h.common.domain != cfg_.domain || h.common.role != cfg_.rx_role) return Error::bad_domain;
  if (h.common.key_epoch != cfg_.key_epoch || h.common.id != cfg_.rx_id) return Error::unknown_key;
  // Cheap rejection of known replays before spending a decryption on them.
  if (!guard_.would_accept(h.common.instance, h.common.counter)) return Error::replayed;

  const std::size_t body_len = datagram.size() - NTM_CTL_HDR_LEN - NTM_TAG_LEN;
  // Control bodies are at most NTM_MAX_CONTROL bytes: decrypt on the stack.
  std::array<std::uint8_t, NTM_MAX_CONTROL> scratch;
  auto plain = std::span<std::uint8_t>(scratch.data(), body_len);
  if (body_len) std::memcpy(plain.data(), datagram.data() + NTM_CTL_HDR_LEN, body_len);
  Error e = rx_.open(Nonce(datagram.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN),
                     datagram.first(NTM_CTL_HDR_LEN), plain,
                     ConstTag(datagram.data() + NTM_CTL_HDR_LEN + body_len, NTM_TAG_LEN));
  if (e == Error::ok) {
    const std::uint64_t skew = h.timestamp_ms > now_ms ? h.timestamp_ms - now_ms
                                                       : now_ms - h.timestamp_ms;
    if (skew > cfg_.max_skew_ms) e = Error::stale;
  }
  // Instances silent for two freshness windows may give up their slot.
  if (e == Error::ok)
    e = guard_.accept(h.common.instance, h.common.counter, now_ms, 2 * cfg_.max_skew_ms);
  if (e == Error::ok) {
    e = decode_body(h.common.type, plain, out.body);
    if (e == Error::ok) out.header = h;
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  return e;
}

}  // namespace ntm::wire
