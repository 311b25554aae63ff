// SPDX-License-Identifier: MIT
// Writes the seed corpora of the fuzz targets: valid encodings of every
// sample message, datagrams sealed under the fixed fuzz keys (so that they
// authenticate in the targets), and a few truncated and bit-flipped
// variants.  Output is deterministic: running it again on an unchanged
// tree rewrites identical files.
//
//   ntm_make_seeds <dir>    writes <dir>/<target>/seed-NNN
//
// Only files named seed-* are replaced; other files in a corpus directory
// (units merged in by hand) are left alone.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/aead.hpp"
#include "ntm/wire/capsule.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/peer_hello.hpp"
#include "ntm/wire/sealed_key.hpp"
#include "wire/sample_messages.hpp"

namespace ntm::test {
namespace {

using namespace ntm::wire;
using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

// Corpus name -> seeds, in the order they are numbered.
using Corpora = std::map<std::string, std::vector<Bytes>>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

Bytes encode(const Body& b) {
  Bytes out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = encode_body(b, out, err);
  if (err != Error::ok) fail("cannot encode sample " + std::string(to_string(type_of(b))));
  out.resize(n);
  return out;
}

Bytes truncated(Bytes b) {
  if (!b.empty()) b.pop_back();
  return b;
}

Bytes flipped(Bytes b, std::size_t at, std::uint8_t mask = 0x01) {
  if (!b.empty()) b[at % b.size()] ^= mask;
  return b;
}

Bytes seal_control(const Body& b, Sender s, std::uint64_t now_ms = kFuzzNowMs,
                   std::uint8_t epoch = kFuzzEpoch) {
  ChannelConfig cfg = sender_config(s);
  cfg.key_epoch = epoch;
  ControlChannel tx(fuzz_key(), cfg);
  Bytes out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = tx.seal(b, kFuzzTxid, now_ms, out, err);
  if (err != Error::ok) fail("cannot seal sample " + std::string(to_string(type_of(b))));
  out.resize(n);
  return out;
}

// A seed meant to authenticate must open in the target's receiver; catch
// a drift between this generator and the targets here, not as silently
// useless seeds.
void expect_opens(const Bytes& dgram, Sender s) {
  ControlChannel rx(fuzz_key(), receiver_config(s));
  Received r;
  if (rx.open(dgram, kFuzzNowMs, r) != Error::ok) fail("control seed does not open");
}

void control_seeds(Corpora& c) {
  const auto types = body_types();
  const auto samples = sample_bodies();
  auto& header = c["header"];
  auto& open = c["control_open"];
  auto& roundtrip = c["control_roundtrip"];
  for (const Body& b : samples) {
    const MsgType t = type_of(b);
    const Bytes body = encode(b);
    auto& own = c["body_" + std::string(to_string(t))];
    own.push_back(body);
    own.push_back(truncated(body));
    own.push_back(flipped(body, 0));
    own.push_back(flipped(body, body.size() / 2, 0x80));

    std::size_t index = 0;
    while (index < types.size() && types[index] != t) ++index;
    if (index == types.size()) fail("sample type missing from Body");
    // Every sender allowed to send this type, each addressed the way the
    // roundtrip target's selector byte does it.
    const SenderSet senders = senders_of(t);
    if (senders.count == 0) fail("no sender for " + std::string(to_string(t)));
    for (std::size_t k = 0; k < senders.count; ++k) {
      const Sender s = senders.at[k];
      Bytes rt(1 + body.size());
      rt[0] = static_cast<std::uint8_t>(index + k * types.size());
      std::copy(body.begin(), body.end(), rt.begin() + 1);
      roundtrip.push_back(rt);
      const Bytes dgram = seal_control(b, s);
      expect_opens(dgram, s);
      open.push_back(dgram);
      if (k == 0) {
        header.push_back(dgram);
        header.push_back(Bytes(dgram.begin(), dgram.begin() + NTM_CTL_HDR_LEN));
      }
    }
  }

  // Near misses for the open target: each fails at a different check.
  // Keepalive: short, and sent in several domains.
  const Body ka = Keepalive{12, 345};
  Sender s;
  pick_sender(type_of(ka), 0, s);
  const Bytes good = seal_control(ka, s);
  open.push_back(truncated(good));                                  // tag cut
  open.push_back(flipped(good, good.size() - 1));                   // tag bit
  open.push_back(flipped(good, NTM_CTL_HDR_LEN));                   // body bit
  open.push_back(flipped(good, 20));                                // id bit
  open.push_back(seal_control(ka, s, kFuzzNowMs - 3'600'000));      // stale
  open.push_back(seal_control(ka, s, kFuzzNowMs, kFuzzEpoch + 1));  // wrong epoch

  // Near misses for the header target.
  header.push_back(Bytes(good.begin(), good.begin() + NTM_HDR_LEN - 1));
  header.push_back(flipped(good, 0, 0x02));  // version
  header.push_back(flipped(good, 2, 0x10));  // reserved flag bit
  header.push_back(flipped(good, 1, 0x1f));  // type
  Bytes reserved = good;
  reserved[NTM_CTL_HDR_LEN - 1] = 1;
  header.push_back(reserved);
  // A counter at the reject limit.
  Bytes limit = good;
  for (std::size_t i = 8; i < 16; ++i) limit[i] = 0xff;
  header.push_back(limit);

  // Bodies that must not decode, for the roundtrip target's error path.
  roundtrip.push_back({0});
  roundtrip.push_back({static_cast<std::uint8_t>(types.size() - 1), 0xff, 0xff});
}

void capsule_seeds(Corpora& c) {
  auto& caps = c["capsule_open"];
  CapsuleSealer tx(fuzz_key(), Role::initiator, fuzz_path(), kFuzzEpoch, kFuzzInstance);
  // A plausible inner IPv4/UDP datagram (addresses in the VIP range).
  const Bytes inner = {0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
                       100,  64,   0,    1,    100,  64,   0,    2,    0x30, 0x39, 0x00, 0x35,
                       0x00, 0x0c, 0x00, 0x00, 'p',  'i',  'n',  'g'};
  for (std::size_t len : {std::size_t{0}, std::size_t{4}, inner.size()}) {
    Bytes frame(NTM_CAPSULE_OVERHEAD + len);
    std::memcpy(frame.data() + NTM_HDR_LEN, inner.data(), len);
    Error err = Error::ok;
    const std::size_t n = tx.seal(frame, len, err);
    if (err != Error::ok || n != frame.size()) fail("cannot seal capsule");
    caps.push_back(frame);
  }
  const Bytes good = caps.back();
  caps.push_back(truncated(good));
  caps.push_back(flipped(good, NTM_HDR_LEN + 3));
  caps.push_back(flipped(good, 2, 0x04));  // role: responder
  c["header"].push_back(good);

  CapsuleOpener check(fuzz_key(), Role::initiator, fuzz_path(), kFuzzEpoch);
  Bytes copy = good;
  std::span<std::uint8_t> payload;
  if (check.open(copy, payload, kFuzzNowMs) != Error::ok) fail("capsule seed does not open");
}

// KeyWrapper::seal draws a random nonce; for reproducible seeds this seals
// with a fixed nonce, following the sealed-key layout (nonce || ct || tag,
// AAD = label || kind || path epoch || path ID), and then checks that
// KeyWrapper::open accepts the result.
SealedKey sealed_key(KeyDomain d, SealedKind kind, std::uint8_t path_epoch, std::uint8_t seed) {
  static constexpr std::string_view kLabel = "NTMobile v1 sealed key";
  const Role wrap_role = d == KeyDomain::dc_peer ? Role::peer_dc : Role::dc;
  Aead aead(derive_key(fuzz_key(), d, wrap_role, Purpose::key_wrap, kFuzzEpoch, kFuzzId));
  Bytes aad(kLabel.begin(), kLabel.end());
  aad.push_back(static_cast<std::uint8_t>(kind));
  aad.push_back(path_epoch);
  aad.insert(aad.end(), kFuzzId.begin(), kFuzzId.end());
  SealedKey k;
  for (std::size_t i = 0; i < NTM_NONCE_LEN + NTM_KEY_LEN; ++i)
    k.bytes[i] = static_cast<std::uint8_t>(seed + 17 * i);
  if (aead.seal(Nonce(k.bytes.data(), NTM_NONCE_LEN), aad,
                std::span<std::uint8_t>(k.bytes.data() + NTM_NONCE_LEN, NTM_KEY_LEN),
                Tag(k.bytes.data() + NTM_NONCE_LEN + NTM_KEY_LEN, NTM_TAG_LEN)) != Error::ok)
    fail("cannot seal key");
  KeyWrapper kw(fuzz_key(), d, kFuzzEpoch, kFuzzId);
  SecretKey out;
  if (kw.open(k, fuzz_path(), path_epoch, kind, out) != Error::ok)
    fail("sealed-key seed does not open: generator and KeyWrapper disagree");
  return k;
}

void sealed_key_seeds(Corpora& c) {
  auto& sk = c["sealed_key"];
  std::uint8_t seed = 0;
  for (std::uint8_t d = 0; d < 4; ++d) {
    for (auto kind : {SealedKind::path_key, SealedKind::relay_key, SealedKind::general_key}) {
      const std::uint8_t path_epoch = static_cast<std::uint8_t>(d + 2);
      const SealedKey k = sealed_key(static_cast<KeyDomain>(d), kind, path_epoch, seed++);
      // Layout read by the target: sealed key, path epoch, kind, domain.
      Bytes in(k.bytes.begin(), k.bytes.end());
      in.push_back(path_epoch);
      in.push_back(static_cast<std::uint8_t>(kind));
      in.push_back(d);
      sk.push_back(in);
    }
  }
  sk.push_back(flipped(sk.front(), 5));
  sk.push_back(Bytes(sk.front().begin(), sk.front().begin() + SealedKey::kSize));
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

void fqdn_seeds(Corpora& c) {
  auto& f = c["fqdn"];
  const std::string l63(63, 'a');
  for (std::string_view s : {"laptop.ntm.example", "CN.NTM.Example.", "a", "a.", "x-1.y2",
                             "-bad.example", "bad-.example", "a..b", ".", "", "under_score.example",
                             "caf\xc3\xa9.example"})
    f.push_back(text(s));
  f.push_back(text(l63 + ".example"));
  f.push_back(text(l63 + "a.example"));  // 64-byte label
  const std::string n253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  f.push_back(text(n253));
  f.push_back(text(n253 + "."));  // 253 plus the dot canonicalize strips
  f.push_back(text(n253 + "b"));
}

void replay_window_seeds(Corpora& c) {
  auto& r = c["replay_window"];
  // Steps: mode byte (0 ahead a little, 1 behind, 2 jump words, 3 raw u64).
  r.push_back({0, 1, 0, 1, 1, 0, 1, 1, 0, 2, 0, 0});
  r.push_back({2, 0, 40, 1, 0x08, 0x00, 1, 0x07, 0xff, 1, 0x07, 0xff, 0, 64});
  r.push_back({3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xdf, 0xff, 0, 1, 0, 0x20});
  r.push_back({3, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 33, 1, 0x08, 0x40, 2, 0, 1});
}

void write(const Corpora& c, const fs::path& root) {
  for (const auto& [name, seeds] : c) {
    const fs::path dir = root / name;
    fs::create_directories(dir);
    std::vector<fs::path> stale;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().rfind("seed-", 0) == 0) stale.push_back(e.path());
    for (const auto& p : stale) fs::remove(p);
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      char file[32];
      std::snprintf(file, sizeof file, "seed-%03zu", i);
      std::ofstream out(dir / file, std::ios::binary);
      out.write(reinterpret_cast<const char*>(seeds[i].data()),
                static_cast<std::streamsize>(seeds[i].size()));
      if (!out) fail("cannot write " + (dir / file).string());
    }
    std::printf("%-32s %zu seeds\n", name.c_str(), seeds.size());
  }
}

// Peer Hellos (not sealed): a hello and a reply around a certificate-sized
// DER-looking blob, the largest allowed, and near misses.
void peer_hello_seeds(Corpora& c) {
  auto& hello = c["peer_hello"];
  ControlHeader h;
  h.common = {MsgType::peer_hello, KeyDomain::dc_peer, Role::peer_dc, 0, 0x01020304, 0, {}};
  for (std::size_t i = 0; i < h.common.id.size(); ++i) h.common.id[i] = static_cast<std::uint8_t>(i + 1);
  h.timestamp_ms = kFuzzNowMs;
  h.txid = 77;
  auto make = [&h](bool reply, std::size_t len) {
    PeerHello m{reply, Bytes(len)};
    m.certificate[0] = 0x30;  // a DER SEQUENCE, as a certificate starts
    for (std::size_t i = 1; i < len; ++i) m.certificate[i] = static_cast<std::uint8_t>(i * 7);
    Bytes out(NTM_MAX_CONTROL);
    Error err = Error::ok;
    const std::size_t n = encode_peer_hello(h, m, out, err);
    if (n == 0) fail("peer hello seed does not encode");
    out.resize(n);
    return out;
  };
  const Bytes good = make(false, 420);
  hello.push_back(good);
  hello.push_back(make(true, 420));
  hello.push_back(make(false, kMaxCertificate));
  hello.push_back(truncated(good));
  hello.push_back(flipped(good, NTM_CTL_HDR_LEN, 0x02));      // flags
  hello.push_back(flipped(good, NTM_CTL_HDR_LEN + 1, 0x40));  // length
  c["header"].push_back(good);
}

}  // namespace
}  // namespace ntm::test

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  try {
    ntm::test::Corpora c;
    ntm::test::control_seeds(c);
    ntm::test::capsule_seeds(c);
    ntm::test::sealed_key_seeds(c);
    ntm::test::fqdn_seeds(c);
    ntm::test::replay_window_seeds(c);
    ntm::test::peer_hello_seeds(c);
    ntm::test::write(c, argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntm_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
