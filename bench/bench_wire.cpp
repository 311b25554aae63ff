// SPDX-License-Identifier: MIT
// Wire-protocol micro-benchmark (issue 2): the data path (Capsulated Packet
// seal and open, 1,400-byte payload, in place) and one control message
// (Registration Request seal+encode, decode+open), on one pinned core.
//
// Output is one "name value" line per metric (lines starting with '#' are
// notes), so bench/run_wire_bench.sh can take medians over rounds and set
// them against `openssl speed` run on the same core in the same round.
//
// Method.  The VM this runs on is shared and noisy: throughput drifts by
// tens of percent within seconds.  So the metrics are not run one after
// the other; they take turns in short slices (--slices rounds of each
// metric, --seconds / --slices long), and each metric reports the median
// of its slices.  Every metric, the references included, thus samples the
// same noisy periods, and ratios between them are stable even when the
// absolute figures are not.
//
// Every timed figure is given twice: against the wall clock (steady_clock)
// and against this thread's CPU time.  `openssl speed` divides by user CPU
// time unless given -elapsed, so each figure has a counterpart measured
// with the same kind of clock.
//
// MB/s means 10^6 bytes of payload per second (openssl speed also counts
// decimal kilobytes); the 32-byte header and 16-byte tag are not counted.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ntm/wire/capsule.hpp"
#include "ntm/wire/control_channel.hpp"
#include "wire/alloc_counter.hpp"
#include "wire/sample_messages.hpp"

namespace {

using namespace ntm::wire;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kPayload = 1400;
constexpr std::size_t kFrame = NTM_CAPSULE_OVERHEAD + kPayload;
// Frames (and control datagrams) per ring.  An opener accepts each counter
// once, so open is timed over a ring of freshly sealed frames that is
// re-sealed, untimed, between timed sections.  256 frames (371 KB) sit in
// L2, as a receive batch would; seal and the round trip walk the same ring
// so that all of them read their frames from the same cache level.  A
// timed open section lasts ~0.2-0.3 ms; the two clock reads around it (a
// CPU-time read is a system call, see section_overhead_cpu_ns) add about
// 0.1-0.2% to the open figures, which errs on the slow side.
constexpr std::size_t kRing = 256;
// Messages per check of the slice's clock in the continuously timed loops.
constexpr std::size_t kBatch = 64;
// Fixed "now" for control messages: seal and open agree on it, so the
// freshness check passes without depending on the real clock.
constexpr std::uint64_t kNowMs = 1'700'000'000'000;
constexpr std::uint64_t kAllocPackets = 100'000;
constexpr std::uint64_t kAllocMessages = 10'000;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "ntm_bench_wire: %s\n", what);
  std::exit(1);
}

void check(bool ok, const char* what) {
  if (!ok) die(what);
}

std::int64_t cpu_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Accumulates wall and CPU time over start()/stop() sections.  The wall
// interval encloses the CPU one, so neither misses the other's work.
class Stopwatch {
 public:
  void start() {
    w0_ = Clock::now();
    c0_ = cpu_now_ns();
  }
  void stop() {
    const std::int64_t c1 = cpu_now_ns();
    const Clock::time_point w1 = Clock::now();
    cpu_ns_ += c1 - c0_;
    wall_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(w1 - w0_).count();
  }
  double wall_ns() const { return static_cast<double>(wall_ns_); }
  double cpu_ns() const { return static_cast<double>(cpu_ns_); }

 private:
  Clock::time_point w0_{};
  std::int64_t c0_ = 0;
  std::int64_t wall_ns_ = 0;
  std::int64_t cpu_ns_ = 0;
};

// Time per item of one slice.
struct Sample {
  double wall_ns = 0;
  double cpu_ns = 0;
};

Sample per_item(const Stopwatch& sw, std::uint64_t items) {
  const double n = static_cast<double>(items);
  return {sw.wall_ns() / n, sw.cpu_ns() / n};
}

bool time_left(Clock::time_point begin, double seconds) {
  return std::chrono::duration<double>(Clock::now() - begin).count() < seconds;
}

// A slice timed as a whole: work() processes some items and returns how
// many, and is called until the slice's time is up.
template <class Work>
Sample continuous(double seconds, Work&& work) {
  Stopwatch sw;
  std::uint64_t n = 0;
  const Clock::time_point begin = Clock::now();
  sw.start();
  do {
    n += work();
  } while (time_left(begin, seconds));
  sw.stop();
  return per_item(sw, n);
}

// A slice of which only timed() counts: prepare() runs untimed before each
// timed section.
template <class Prepare, class Work>
Sample sectioned(double seconds, Prepare&& prepare, Work&& timed) {
  Stopwatch sw;
  std::uint64_t n = 0;
  const Clock::time_point begin = Clock::now();
  do {
    prepare();
    sw.start();
    n += timed();
    sw.stop();
  } while (time_left(begin, seconds));
  return per_item(sw, n);
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity failed");
}

// The payload content does not change AES-GCM's speed; any pattern will do.
void fill_payload(std::span<std::uint8_t> p) {
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 131 + 7);
}

using Frame = std::array<std::uint8_t, kFrame>;
using Ring = std::vector<Frame>;

// --- Capsulated Packet --------------------------------------------------

void seal_checked(CapsuleSealer& tx, std::span<std::uint8_t> frame) {
  Error err = Error::ok;
  check(tx.seal(frame, kPayload, err) == kFrame && err == Error::ok, "capsule seal failed");
}

void open_checked(CapsuleOpener& rx, std::span<std::uint8_t> frame) {
  std::span<std::uint8_t> payload;
  check(rx.open(frame, payload) == Error::ok && payload.size() == kPayload, "capsule open failed");
}

// One path direction: the sending end's sealer, the receiving end's opener
// and the ring of frames between them.
struct CapsuleBench {
  CapsuleSealer tx;
  CapsuleOpener rx;
  Ring ring = Ring(kRing);

  explicit CapsuleBench(const SecretKey& k)
      : tx(k, Role::initiator, ntm::test::path_id(3), 0),
        rx(k, Role::initiator, ntm::test::path_id(3), 0) {
    for (auto& f : ring) fill_payload(std::span(f).subspan(NTM_HDR_LEN, kPayload));
  }

  std::uint64_t seal_ring() {
    for (auto& f : ring) seal_checked(tx, f);
    return ring.size();
  }
  std::uint64_t open_ring() {
    for (auto& f : ring) open_checked(rx, f);
    return ring.size();
  }

  // Seal: the ring's frames re-sealed in place (the previous ciphertext is
  // the next plaintext, which costs the same).
  Sample seal(double s) {
    return continuous(s, [&] { return seal_ring(); });
  }
  // Open: the ring sealed with consecutive fresh counters (untimed), then
  // opened in counter order (timed).  Every open does the whole work of an
  // accepted packet: header checks, replay check, tag check and decryption,
  // window update.
  Sample open(double s) {
    return sectioned(
        s, [&] { seal_ring(); }, [&] { return open_ring(); });
  }
  // Round trip: each frame sealed then opened back to back; what one core
  // does for a packet it sends to itself.
  Sample roundtrip(double s) {
    return continuous(s, [&] {
      for (auto& f : ring) {
        seal_checked(tx, f);
        open_checked(rx, f);
      }
      return ring.size();
    });
  }

  // Heap allocations per packet, each over kAllocPackets packets.  For open
  // only the open calls are inside the counted intervals.
  double seal_allocs() {
    ntm::test::AllocCounter c;
    std::uint64_t n = 0;
    while (n < kAllocPackets) n += seal_ring();
    return static_cast<double>(c.allocations()) / static_cast<double>(n);
  }
  double open_allocs() {
    ntm::test::AllocCounter c;
    std::uint64_t allocs = 0;
    std::uint64_t n = 0;
    while (n < kAllocPackets) {
      seal_ring();
      const std::uint64_t before = c.allocations();
      n += open_ring();
      allocs += c.allocations() - before;
    }
    return static_cast<double>(allocs) / static_cast<double>(n);
  }
};

// --- Registration Request over a node <-> DC control channel ------------

ChannelConfig channel_cfg(Role tx, Role rx, const NodeId& id, std::uint32_t instance) {
  ChannelConfig c;
  c.domain = KeyDomain::node_dc;
  c.tx_role = tx;
  c.rx_role = rx;
  c.tx_id = id.bytes;
  c.rx_id = id.bytes;
  c.instance = instance;
  c.first_counter = initial_counter(kNowMs * 1'000'000);
  return c;
}

// The unit tests' sample Registration Request: a node that moved, an
// 18-byte FQDN and two local endpoints (IPv4 and IPv6).
Body registration_request() {
  for (const Body& b : ntm::test::sample_bodies())
    if (std::holds_alternative<RegistrationRequest>(b)) return b;
  die("no RegistrationRequest among the sample bodies");
}

using Datagram = std::array<std::uint8_t, NTM_MAX_CONTROL>;

struct ControlBench {
  ControlChannel node;
  ControlChannel dc;
  Body body = registration_request();
  Datagram out{};
  std::vector<Datagram> ring = std::vector<Datagram>(kRing);
  std::vector<std::size_t> lens = std::vector<std::size_t>(kRing);
  Received received;  // reused, as a receive loop would

  explicit ControlBench(const SecretKey& k)
      : node(k, channel_cfg(Role::node, Role::dc, ntm::test::node_id(1), 11)),
        dc(k, channel_cfg(Role::dc, Role::node, ntm::test::node_id(1), 22)) {}

  std::size_t seal_one(Datagram& d) {
    Error err = Error::ok;
    const std::size_t n = node.seal(body, 1, kNowMs, d, err);
    check(n > 0 && err == Error::ok, "control seal failed");
    return n;
  }
  void seal_ring() {
    for (std::size_t i = 0; i < kRing; ++i) lens[i] = seal_one(ring[i]);
  }
  std::uint64_t open_ring() {
    for (std::size_t i = 0; i < kRing; ++i)
      check(dc.open(std::span(ring[i]).first(lens[i]), kNowMs, received) == Error::ok &&
                std::holds_alternative<RegistrationRequest>(received.body),
            "control open failed");
    return kRing;
  }

  // Seal+encode: header and body encoded into the datagram, body sealed.
  Sample seal(double s) {
    return continuous(s, [&] {
      for (std::size_t i = 0; i < kBatch; ++i) seal_one(out);
      return kBatch;
    });
  }
  // Decode+open, by the same ring method as capsules (the channel's replay
  // window accepts each counter once): the body is copied to the stack,
  // authenticated and decrypted there, and decoded into a Body.
  Sample open(double s) {
    return sectioned(
        s, [&] { seal_ring(); }, [&] { return open_ring(); });
  }

  double seal_allocs() {
    ntm::test::AllocCounter c;
    for (std::uint64_t i = 0; i < kAllocMessages; ++i) seal_one(out);
    return static_cast<double>(c.allocations()) / static_cast<double>(kAllocMessages);
  }
  double open_allocs() {
    ntm::test::AllocCounter c;
    std::uint64_t allocs = 0;
    std::uint64_t n = 0;
    while (n < kAllocMessages) {
      seal_ring();
      const std::uint64_t before = c.allocations();
      n += open_ring();
      allocs += c.allocations() - before;
    }
    return static_cast<double>(allocs) / static_cast<double>(n);
  }
};

// --- References: OpenSSL's AES-256-GCM alone, on the same core ----------
//
// Not part of the target; they show what limits the figures above.
// OpenSSL 3.0.19's `openssl speed -evp aes-256-gcm` sets the key and IV
// again for every message, so its figure includes a key schedule per
// 1,024 bytes and is not the cipher's bulk rate.  These two are keyed once.

class EvpCtx {
 public:
  EvpCtx() : ctx_(EVP_CIPHER_CTX_new()) {
    std::array<std::uint8_t, NTM_KEY_LEN> key{};
    key.fill(0x5a);
    check(ctx_ != nullptr &&
              EVP_EncryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, key.data(), nullptr) == 1,
          "EVP setup failed");
  }
  ~EvpCtx() { EVP_CIPHER_CTX_free(ctx_); }
  EvpCtx(const EvpCtx&) = delete;
  EvpCtx& operator=(const EvpCtx&) = delete;
  EVP_CIPHER_CTX* get() const { return ctx_; }

 private:
  EVP_CIPHER_CTX* ctx_;
};

struct ReferenceBench {
  EvpCtx ctx;
  std::uint64_t counter = 0;
  std::array<std::uint8_t, 1024> buf{};
  int n = 0;

  void set_nonce() {
    std::array<std::uint8_t, NTM_NONCE_LEN> nonce{};
    ++counter;
    std::memcpy(nonce.data() + 4, &counter, sizeof counter);
    check(EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, nullptr, nonce.data()) == 1,
          "EVP IV failed");
  }

  // Bulk rate: one GCM message fed in 1,024-byte updates (what `openssl
  // speed` measured before it re-keyed per message).  A message is 1 MB,
  // far below GCM's 64 GB limit; one nonce and final per MB cost nothing.
  Sample stream(double s) {
    return continuous(s, [&] {
      set_nonce();
      for (int i = 0; i < 1024; ++i)
        check(EVP_EncryptUpdate(ctx.get(), buf.data(), &n, buf.data(), 1024) == 1, "EVP update");
      check(EVP_EncryptFinal_ex(ctx.get(), buf.data(), &n) == 1, "EVP final");
      return std::uint64_t{1024};
    });
  }

  // One packet as OpenSSL's EVP interface costs it, keyed once: the calls
  // Aead::seal makes (nonce, 32-byte AAD, 1,400-byte payload, final, get
  // tag), without the NTMobile header, counter and checks around them.
  Sample packet(Ring& ring, double s) {
    return continuous(s, [&] {
      for (auto& f : ring) {
        std::uint8_t* body = f.data() + NTM_HDR_LEN;
        set_nonce();
        check(EVP_EncryptUpdate(ctx.get(), nullptr, &n, f.data(), NTM_HDR_LEN) == 1 &&
                  EVP_EncryptUpdate(ctx.get(), body, &n, body, static_cast<int>(kPayload)) == 1 &&
                  EVP_EncryptFinal_ex(ctx.get(), body + kPayload, &n) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, NTM_TAG_LEN,
                                      body + kPayload) == 1,
              "EVP packet seal failed");
      }
      return ring.size();
    });
  }
};

// --- Driver ---------------------------------------------------------------

struct Metric {
  std::string name;
  std::function<Sample(double)> slice;
  std::vector<double> wall;
  std::vector<double> cpu;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

void print(std::string_view name, double value) {
  std::printf("%.*s %.3f\n", static_cast<int>(name.size()), name.data(), value);
}

// The zero-allocation figure means something only if the counter sees both
// kinds of allocation; prove it before relying on it.  ::operator new is
// called directly because a new-expression paired with delete may be
// elided by the compiler.
bool alloc_hooks_work() {
  ntm::test::AllocCounter c;
  void* a = OPENSSL_malloc(32);
  void* b = ::operator new(32);
  const bool ok = c.allocations() == 2;
  ::operator delete(b);
  OPENSSL_free(a);
  return ok;
}

// Cost of one start()/stop() pair with nothing between: what the clock
// reads add to each timed open section.
Sample section_overhead() {
  Stopwatch sw;
  constexpr int kN = 10'000;
  for (int i = 0; i < kN; ++i) {
    sw.start();
    sw.stop();
  }
  return per_item(sw, kN);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: ntm_bench_wire [--cpu N] [--seconds S] [--slices K]\n"
               "  --cpu N      pin to CPU N (default 0)\n"
               "  --seconds S  timed seconds per metric (default 0.4)\n"
               "  --slices K   turns each metric takes, median reported (default 25)\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int cpu = 0;
  double seconds = 0.4;
  int slices = 25;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--cpu" && i + 1 < argc) {
      cpu = std::atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--slices" && i + 1 < argc) {
      slices = std::atoi(argv[++i]);
    } else {
      usage();
    }
  }
  if (!(seconds > 0) || slices < 1) usage();
  pin_to(cpu);
  if (!alloc_hooks_work()) die("allocation hooks are not installed; counts would be wrong");

  std::printf("# openssl_library %s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("# cpu %d, payload %zu bytes, datagram %zu bytes, ring %zu, %d slices of %.1f ms\n",
              cpu, kPayload, kFrame, kRing, slices, seconds / slices * 1e3);

  const SecretKey k = SecretKey::random();
  CapsuleBench cap(k);
  ControlBench ctl(k);
  ReferenceBench ref;

  std::vector<Metric> metrics;
  metrics.push_back({"capsule_seal", [&](double s) { return cap.seal(s); }, {}, {}});
  metrics.push_back({"capsule_open", [&](double s) { return cap.open(s); }, {}, {}});
  metrics.push_back({"capsule_roundtrip", [&](double s) { return cap.roundtrip(s); }, {}, {}});
  metrics.push_back({"regreq_seal", [&](double s) { return ctl.seal(s); }, {}, {}});
  metrics.push_back({"regreq_open", [&](double s) { return ctl.open(s); }, {}, {}});
  metrics.push_back({"ref_gcm_stream1024", [&](double s) { return ref.stream(s); }, {}, {}});
  metrics.push_back(
      {"ref_gcm_packet1400", [&](double s) { return ref.packet(cap.ring, s); }, {}, {}});

  const double slice_s = seconds / slices;
  for (auto& m : metrics) m.slice(slice_s);  // warm-up: caches, lazy OpenSSL set-up
  for (int r = 0; r < slices; ++r) {
    for (auto& m : metrics) {
      const Sample smp = m.slice(slice_s);
      m.wall.push_back(smp.wall_ns);
      m.cpu.push_back(smp.cpu_ns);
    }
  }

  // ns per item, and MB/s (payload) or messages/s, against both clocks.
  auto report = [&](const Metric& m, double bytes) {
    const double wall = median(m.wall);
    const double cpu_ns = median(m.cpu);
    print(m.name + "_ns", wall);
    print(m.name + "_cpu_ns", cpu_ns);
    if (bytes > 0) {
      print(m.name + "_MBps", bytes * 1e3 / wall);
      print(m.name + "_cpu_MBps", bytes * 1e3 / cpu_ns);
    } else {
      print(m.name + "_msgps", 1e9 / wall);
      print(m.name + "_cpu_msgps", 1e9 / cpu_ns);
    }
  };
  const double payload = static_cast<double>(kPayload);
  for (const auto& m : metrics)
    report(m, m.name.starts_with("regreq") ? 0 : m.name.ends_with("1024") ? 1024 : payload);

  // AES-GCM bytes processed per second by seal+open: two passes over the
  // payload per packet, from the separate seal and open figures.
  const double seal_w = median(metrics[0].wall), open_w = median(metrics[1].wall);
  const double seal_c = median(metrics[0].cpu), open_c = median(metrics[1].cpu);
  print("capsule_aead_MBps", 2 * payload * 1e3 / (seal_w + open_w));
  print("capsule_aead_cpu_MBps", 2 * payload * 1e3 / (seal_c + open_c));
  print("capsule_payload_bytes", payload);

  print("capsule_seal_allocs_per_pkt", cap.seal_allocs());
  print("capsule_open_allocs_per_pkt", cap.open_allocs());
  std::array<std::uint8_t, NTM_MAX_CONTROL> probe{};
  print("regreq_datagram_bytes", static_cast<double>(ctl.seal_one(probe)));
  print("regreq_seal_allocs_per_msg", ctl.seal_allocs());
  print("regreq_open_allocs_per_msg", ctl.open_allocs());
  const Sample overhead = section_overhead();
  print("section_overhead_ns", overhead.wall_ns);
  print("section_overhead_cpu_ns", overhead.cpu_ns);
  return 0;
}
