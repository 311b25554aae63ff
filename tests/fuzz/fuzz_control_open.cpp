// SPDX-License-Identifier: MIT
// ControlChannel::open on arbitrary datagrams, under the fixed fuzz key.
// The receiving channel is picked by the datagram's own flags byte so that
// seeds of every (domain, role) authenticate.  Whatever opens must be
// exactly what a sender with the same header fields would seal, and must
// not open a second time (replay).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/control_channel.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  using namespace ntm::test;
  const std::span<const std::uint8_t> in(data, size);

  Sender s = kSenders[1];  // node_dc, sent by the DC: the common case
  if (size > 2) {
    const auto flags = data[2];
    const Sender f{static_cast<KeyDomain>(flags & NTM_FLAG_DOMAIN_MASK),
                   static_cast<Role>((flags & NTM_FLAG_ROLE_MASK) >> NTM_FLAG_ROLE_SHIFT)};
    if (role_valid(f.domain, f.role)) s = f;
  }
  // A fresh channel per input keeps runs reproducible (no replay state
  // carried from one input to the next).
  const SecretKey key = fuzz_key();
  ControlChannel rx(key, receiver_config(s));
  Received got;
  const Error e = rx.open(in, kFuzzNowMs, got);
  if (e != Error::ok) return 0;

  const ControlHeader& h = got.header;
  NTM_FUZZ_CHECK(size <= NTM_MAX_CONTROL);
  NTM_FUZZ_CHECK(h.common.domain == s.domain && h.common.role == s.role);
  NTM_FUZZ_CHECK(h.common.type == type_of(got.body));

  // Seal the decoded body again with the sender's instance, counter,
  // clock and txid: AES-GCM is deterministic, so the bytes must match.
  ControlChannel tx(key, sender_config(s, h.common.counter, h.common.instance));
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = tx.seal(got.body, h.txid, h.timestamp_ms, out, err);
  NTM_FUZZ_CHECK(err == Error::ok);
  NTM_FUZZ_CHECK(n == size);
  out.resize(n);
  NTM_FUZZ_CHECK(std::equal(out.begin(), out.end(), in.begin()));

  Received again;
  NTM_FUZZ_CHECK(rx.open(in, kFuzzNowMs, again) == Error::replayed);
  return 0;
}
