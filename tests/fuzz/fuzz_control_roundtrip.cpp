// SPDX-License-Identifier: MIT
// Reaches the body decoder behind the AEAD, which random datagrams never
// do.  Input: byte 0 picks the body type (byte 0 % 18) and a sender allowed
// to send it (byte 0 / 18); the rest is the plaintext body.  The body is
// sealed as is (raw AEAD, so bodies that do not decode get through too)
// and opened by the receiving channel, whose verdict must be exactly
// decode_body's.  Bodies that decode are also sealed with
// ControlChannel::seal, which must produce the same datagram.  Either way
// the counter is spent: a second copy must be refused as a replay.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/aead.hpp"
#include "ntm/wire/bytes.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/header.hpp"
#include "ntm/wire/key_schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  using namespace ntm::test;
  if (size < 1) return 0;
  static const auto kTypes = body_types();
  const MsgType type = kTypes[data[0] % kTypes.size()];
  Sender s;
  if (!pick_sender(type, data[0] / kTypes.size(), s)) return 0;
  const std::span<const std::uint8_t> body(data + 1, size - 1);

  // The datagram as a sender would build it, around arbitrary body bytes.
  ControlHeader h;
  h.common = {type, s.domain, s.role, kFuzzEpoch, kFuzzInstance, kFuzzFirstCounter, kFuzzId};
  h.timestamp_ms = kFuzzNowMs;
  h.txid = kFuzzTxid;
  std::vector<std::uint8_t> dgram(NTM_CTL_HDR_LEN + body.size() + NTM_TAG_LEN);
  Writer w(std::span<std::uint8_t>(dgram).first(NTM_CTL_HDR_LEN));
  encode(h, w);
  NTM_FUZZ_CHECK(w.ok());
  if (!body.empty()) std::memcpy(dgram.data() + NTM_CTL_HDR_LEN, body.data(), body.size());
  const SecretKey key = fuzz_key();
  Aead aead(derive_key(key, s.domain, s.role, Purpose::control, kFuzzEpoch, kFuzzId));
  NTM_FUZZ_CHECK(aead.seal(Nonce(dgram.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN),
                           std::span<const std::uint8_t>(dgram).first(NTM_CTL_HDR_LEN),
                           std::span<std::uint8_t>(dgram).subspan(NTM_CTL_HDR_LEN, body.size()),
                           Tag(dgram.data() + NTM_CTL_HDR_LEN + body.size(), NTM_TAG_LEN)) ==
                 Error::ok);

  ControlChannel rx(key, receiver_config(s));
  Received got;
  const Error e = rx.open(dgram, kFuzzNowMs, got);
  if (dgram.size() > NTM_MAX_CONTROL) {
    NTM_FUZZ_CHECK(e == Error::too_large);
    return 0;
  }
  Body expect;
  const Error d = decode_body(type, body, expect);
  NTM_FUZZ_CHECK(e == d);
  Received again;
  if (d != Error::ok) {
    // Authentic and fresh, so its counter is spent even though the body
    // was refused: the same datagram again is a replay.
    NTM_FUZZ_CHECK(rx.open(dgram, kFuzzNowMs, again) == Error::replayed);
    return 0;
  }
  NTM_FUZZ_CHECK(got.header == h);
  NTM_FUZZ_CHECK(got.body == expect);

  ControlChannel tx(key, sender_config(s));
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = tx.seal(expect, kFuzzTxid, kFuzzNowMs, out, err);
  NTM_FUZZ_CHECK(err == Error::ok);
  NTM_FUZZ_CHECK(n == dgram.size());
  NTM_FUZZ_CHECK(std::equal(dgram.begin(), dgram.end(), out.begin()));

  NTM_FUZZ_CHECK(rx.open(std::span<const std::uint8_t>(out).first(n), kFuzzNowMs, again) ==
                 Error::replayed);
  return 0;
}
