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

std::size_t seal_control(Aead& key, const ControlHeader& h, const Body& body,
                         std::span<std::uint8_t> out, Error& err) noexcept {
  err = Error::ok;
  if (h.common.type != type_of(body) || !allowed(h.common.type, h.common.domain, h.common.role)) {
    err = Error::bad_domain;
    return 0;
  }
  if (h.common.counter >= NTM_COUNTER_REJECT_AFTER) {
    err = Error::counter_exhausted;
    return 0;
  }
  const std::size_t limit = std::min<std::size_t>(out.size(), NTM_MAX_CONTROL);
  if (limit < NTM_CTL_HDR_LEN + NTM_TAG_LEN) {
    err = Error::too_large;
    return 0;
  }
  Writer w(out.first(NTM_CTL_HDR_LEN));
  encode(h, w);
  auto body_space = out.subspan(NTM_CTL_HDR_LEN, limit - NTM_CTL_HDR_LEN - NTM_TAG_LEN);
  const std::size_t body_len = encode_body(body, body_space, err);
  if (err != Error::ok) return 0;
  // Nonce = header bytes 4..15 (instance || counter), authenticated as AAD.
  err = key.seal(Nonce(out.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN), out.first(NTM_CTL_HDR_LEN),
                 body_space.first(body_len),
                 Tag(out.data() + NTM_CTL_HDR_LEN + body_len, NTM_TAG_LEN));
  if (err != Error::ok) return 0;
  return NTM_CTL_HDR_LEN + body_len + NTM_TAG_LEN;
}

Error open_control(Aead& key, std::span<const std::uint8_t> datagram, const ControlHeader& h,
                   Body& body) {
  if (datagram.size() > NTM_MAX_CONTROL) return Error::too_large;
  if (datagram.size() < NTM_CTL_HDR_LEN + NTM_TAG_LEN) return Error::truncated;
  const std::size_t body_len = datagram.size() - NTM_CTL_HDR_LEN - NTM_TAG_LEN;
  // Control bodies are at most NTM_MAX_CONTROL bytes: decrypt on the stack.
  std::array<std::uint8_t, NTM_MAX_CONTROL> scratch;
  auto plain = std::span<std::uint8_t>(scratch.data(), body_len);
  if (body_len) std::memcpy(plain.data(), datagram.data() + NTM_CTL_HDR_LEN, body_len);
  Error e = key.open(Nonce(datagram.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN),
                     datagram.first(NTM_CTL_HDR_LEN), plain,
                     ConstTag(datagram.data() + NTM_CTL_HDR_LEN + body_len, NTM_TAG_LEN));
  if (e == Error::ok) e = decode_body(h.common.type, plain, body);
  OPENSSL_cleanse(plain.data(), plain.size());
  return e;
}

bool fresh(std::uint64_t timestamp_ms, std::uint64_t now_ms, std::uint64_t max_skew_ms) noexcept {
  const std::uint64_t skew = timestamp_ms > now_ms ? timestamp_ms - now_ms : now_ms - timestamp_ms;
  return skew <= max_skew_ms;
}

std::size_t ControlChannel::seal(const Body& body, std::uint32_t txid, std::uint64_t now_ms,
                                 std::span<std::uint8_t> out, Error& err) noexcept {
  ControlHeader h;
  h.common = {type_of(body), cfg_.domain, cfg_.tx_role, cfg_.key_epoch, cfg_.instance,
              next_counter_, cfg_.tx_id};
  h.timestamp_ms = now_ms;
  h.txid = txid;
  const std::size_t n = seal_control(tx_, h, body, out, err);
  if (n) ++next_counter_;  // consumed even if the caller never sends: never reuse a nonce
  return n;
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
  Body body;
  if (Error e = open_control(rx_, datagram, h, body); e != Error::ok) {
    // An authentic message whose body does not decode still used its
    // counter; a forgery (auth_failed) must not touch the window.
    if (e != Error::auth_failed && fresh(h.timestamp_ms, now_ms, cfg_.max_skew_ms))
      (void)guard_.accept(h.common.instance, h.common.counter, now_ms, 2 * cfg_.max_skew_ms);
    return e;
  }
  if (!fresh(h.timestamp_ms, now_ms, cfg_.max_skew_ms)) return Error::stale;
  // Instances silent for two freshness windows may give up their slot.
  if (Error e = guard_.accept(h.common.instance, h.common.counter, now_ms, 2 * cfg_.max_skew_ms);
      e != Error::ok)
    return e;
  out.header = h;
  out.body = std::move(body);
  return Error::ok;
}

}  // namespace ntm::wire
