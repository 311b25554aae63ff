// SPDX-License-Identifier: MIT
// ntm-rs's datagram entry point (relay::Forwarder) on arbitrary bytes.  The
// RS holds, under the fixed fuzz key, a forward path (id kFuzzId, both ends
// known) and a translate path (kFuzzId with its last byte inverted, the MN
// known), so seeds sealed with the fuzz key reach forwarding, path control,
// translation and the DC link.  Input byte 0 picks the source (bits 0-1:
// the initiator's endpoint, the responder's, a stranger's) or, with bit 7,
// feeds the rest to the TUN side instead.  Nothing may crash, a forwarded
// datagram must leave unchanged, and only to a known end; the RS's own
// answers go to a known end, the DC, or the datagram's source.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "dc_link.hpp"
#include "forwarder.hpp"
#include "fuzz_fixture.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace {

using namespace ntm;

wire::Endpoint ep(std::uint32_t a, std::uint16_t port) {
  wire::Endpoint e;
  e.addr = wire::IpAddr::v4(a);
  e.port = port;
  return e;
}

class CheckingSink final : public relay::Sink {
 public:
  std::span<std::uint8_t> buffer() override { return buf_; }
  void send(std::span<const std::uint8_t> d, const wire::Endpoint& to) override {
    NTM_FUZZ_CHECK(!d.empty() && d.size() <= relay::kReplyBufferSize);
    // Forwarded datagrams go only to a known end (or the DC); an answer the
    // RS sealed itself (in buf_) may also go back to the datagram's source:
    // an authenticated Update Request from a new address is answered there.
    const bool reply = d.data() == buf_.data();
    NTM_FUZZ_CHECK(to == known[0] || to == known[1] || to == dc || (reply && to == source));
    if (forwarded_from) {  // a forward path's datagram goes out as it came
      NTM_FUZZ_CHECK(d.data() != buf_.data() ? std::memcmp(d.data(), forwarded_from, d.size()) == 0
                                             : true);
    }
  }
  void write_tun(std::span<const std::uint8_t> p) override {
    NTM_FUZZ_CHECK(p.size() >= 20 && p.size() <= NTM_MAX_INNER);
  }
  wire::Endpoint known[2];
  wire::Endpoint dc;
  wire::Endpoint source;  // where the fuzzed datagram came from
  const std::uint8_t* forwarded_from = nullptr;

 private:
  std::array<std::uint8_t, relay::kReplyBufferSize> buf_{};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::test;
  if (size < 1) return 0;
  relay::Config cfg;
  cfg.id.bytes = kFuzzId;
  cfg.name = "relay.fuzz.example";
  cfg.key = fuzz_key();
  cfg.key_epoch = kFuzzEpoch;
  cfg.dc = ep(0x7f000001, 4510);
  cfg.listen = cfg.advertise = ep(0x7f000001, 4530);
  relay::PathTable paths(8);
  relay::Drops drops;
  relay::DcLink dc(cfg, paths, drops);
  relay::Forwarder fwd(cfg, paths, dc, drops);
  const relay::Now now{1000, kFuzzNowMs};

  // The two paths, installed as a Relay Direction would.
  wire::KeyWrapper wrap(cfg.key, wire::KeyDomain::node_dc, kFuzzEpoch, cfg.id.bytes);
  wire::RelayDirection d;
  d.path_id = fuzz_path();
  d.key_epoch = kFuzzEpoch;
  d.mode = wire::RelayMode::forward;
  d.relay_key = wrap.seal(fuzz_key(), d.path_id, kFuzzEpoch, wire::SealedKind::relay_key);
  d.idle_timeout_s = 30;
  NTM_FUZZ_CHECK(dc.install(d, now) == wire::Status::ok);
  const wire::Endpoint a = ep(0xc6336401, 1000), b = ep(0xc6336402, 2000), c = ep(0xc0000242, 3000);
  paths.find(d.path_id)->endpoint[0] = a;
  paths.find(d.path_id)->endpoint[1] = b;
  d.path_id.bytes[15] ^= 0xff;
  d.mode = wire::RelayMode::translate;
  d.initiator.vip.addr = 0x64400007;
  d.responder.vip.addr = 0x64400101;
  d.responder.real = ep(0xc6336409, 0);
  d.relay_key = wrap.seal(fuzz_key(), d.path_id, kFuzzEpoch, wire::SealedKind::general_key);
  NTM_FUZZ_CHECK(dc.install(d, now) == wire::Status::ok);
  paths.find(d.path_id)->endpoint[0] = a;

  CheckingSink sink;
  sink.known[0] = a;
  sink.known[1] = b;
  sink.dc = cfg.dc;
  const std::uint8_t sel = data[0];
  // Exactly sized copies: ASan sees any access past the datagram.
  if (sel & 0x80) {
    std::vector<std::uint8_t> frame(NTM_CAPSULE_OVERHEAD + (size - 1));
    std::memcpy(frame.data() + NTM_HDR_LEN, data + 1, size - 1);
    fwd.on_tun_packet(frame, size - 1, sink, now);
    return 0;
  }
  std::vector<std::uint8_t> dg(data + 1, data + size);
  const std::vector<std::uint8_t> original = dg;
  sink.forwarded_from = original.data();
  const wire::Endpoint from = (sel & 3) == 0 ? a : (sel & 3) == 1 ? b : c;
  sink.source = from;
  fwd.on_datagram(dg, from, sink, now);
  return 0;
}
