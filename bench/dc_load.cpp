// SPDX-License-Identifier: MIT
// Direction Coordinator load generator (issue 3).  Plays many nodes against
// a running ntm-dc over loopback UDP and measures what the DC answers:
//
//   ntm_bench_dc gen --count N --zone Z --out FILE
//       makes N nodes (random 128-bit ID, random 256-bit key, distinct VIP)
//       and writes them as "id<TAB>fqdn<TAB>key<TAB>vip" lines, which
//       bench/run_dc_bench.sh loads straight into the nodes table: enrolling
//       100,000 nodes one CLI call at a time would take longer than the
//       whole benchmark.
//   ntm_bench_dc run --dc ADDR:PORT --nodes FILE [options]
//       phases, each optional: (a) registration storm of --storm nodes,
//       each registering once, --window requests outstanding per thread;
//       (b) Directions between pairs of them, paced at --dir-rate for
//       --dir-seconds; (c) --moves nodes re-register from a new source
//       port (the DC then walks its paths); (d) every other node of the
//       file registers.  The DC's RSS (--dc-pid) is read between phases,
//       and --hook runs after each phase (the script snapshots database
//       counters there).
//       --dc may list several endpoints (A,B,C: the processes of one DC
//       cluster): node i registers and asks at endpoint i mod count.
//   ntm_bench_dc xzone --dc ADDR:PORT --nodes FILE --cn-dc ADDR:PORT
//                      --cn-nodes FILE [--pairs N]
//       cross-zone directions (issue 7): the --nodes nodes register at
//       DC_A, the --cn-nodes nodes at DC_B; then, one at a time, node i of
//       A asks for node i of B (cold: DC_A has not resolved that name yet),
//       again with a new path ID (warm: its DNS answers are cached), and,
//       as a reference in the same run, for node i+1 of its own zone.
//       Latency is from the Direction Request to the MN's Route Direction.
//   ntm_bench_dc probe --dc ADDR:PORT --credentials FILE
//       registers one node (a config written by `ntm-dc node add`) every
//       few milliseconds until the first answer, and prints when that
//       answer came: the restart measurement starts it before the DC.
//   ntm_bench_dc free-port
//       prints a free UDP port on 127.0.0.1.
//
// Output is one "name value" line per figure ('#' lines are notes), as
// bench_wire does, so that the script can take medians over rounds.
//
// Design.  A node here is not a socket and a thread: that would measure
// the scheduler of a 2-core machine, not the DC.  A few worker threads each
// own a UDP socket shared by all of their nodes (and a second one that
// moved nodes switch to), and a node is only its ID, FQDN, derived control
// keys, sender instance and counter.  Every message a node sends leaves
// from its worker's socket, so the address the DC observes at registration
// is the one it later sends Route Directions to.  Replies are routed to
// their node by the header's ID (the DC seals every message to a node under
// that node's ID) and opened with that node's key.  A worker keeps keyed
// AEAD contexts for the first kKeyedNodes nodes (the ones the direction
// phase uses) and rekeys one shared context for the others: keying a GCM
// context costs more than sealing a control message, and the generator
// shares the machine's two cores with the DC it measures.  A real node has
// one DC and keeps its contexts; only the DC rekeys per message.  Nodes report the shared socket's address as their local
// address, so the DC sees them as global (not behind NAT) and directs every
// path as a direct route.
//
// What the generator does not check: replay and freshness of the DC's
// answers (only the DC sends to these sockets, and Route Directions are
// retransmitted on purpose), nor the sealed path keys inside a Route
// Direction (the DC integration tests do that).  Every answer is
// authenticated and fully decoded, as a node would.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "node_client.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/common/udp_socket.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/key_schedule.hpp"

namespace {

using namespace ntm;
using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ntm_bench_dc: %s\n", what.c_str());
  std::exit(1);
}

void out(const char* name, double v) {
  std::printf("%s %.6g\n", name, v);
}
void note(const std::string& s) {
  std::printf("# %s\n", s.c_str());
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return duration<double, std::milli>(b - a).count();
}

// Latency samples in microseconds; percentiles by nearest rank.
struct Samples {
  std::vector<std::uint32_t> us;
  void add(Clock::duration d) {
    const auto v = duration_cast<microseconds>(d).count();
    us.push_back(static_cast<std::uint32_t>(std::clamp<long long>(v, 0, UINT32_MAX)));
  }
  void merge(const Samples& o) { us.insert(us.end(), o.us.begin(), o.us.end()); }
  double pct_ms(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(us.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, us.size());
    return us[rank - 1] / 1000.0;
  }
};

// ---- nodes ----------------------------------------------------------------

struct SimNode {
  wire::NodeId id;
  std::string fqdn;
  wire::SecretKey tx;  // node -> DC control key
  wire::SecretKey rx;  // DC -> node control key
  std::uint32_t instance = 0;
  std::uint64_t counter = 0;
  unsigned worker = 0;
  unsigned sock = 0;  // which of its worker's sockets it sends from (1 after a move)
  unsigned dc = 0;    // its DC (process): an index into Shared::dcs
};

struct IdHash {
  template <class Tag>
  std::size_t operator()(const wire::Id<Tag>& id) const noexcept {
    // IDs are random: eight of their bytes are already a good hash.
    std::size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof h);
    return h;
  }
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  std::size_t start = 0;
  for (;;) {
    const auto tab = line.find('\t', start);
    f.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return f;
}

// Derives both control keys as wire::ControlChannel does for a node.
void derive(SimNode& n, const wire::SecretKey& base) {
  n.tx = wire::derive_key(base, wire::KeyDomain::node_dc, wire::Role::node, wire::Purpose::control,
                          0, n.id.bytes);
  n.rx = wire::derive_key(base, wire::KeyDomain::node_dc, wire::Role::dc, wire::Purpose::control, 0,
                          n.id.bytes);
  n.instance = wire::new_instance();
  n.counter = wire::initial_counter(common::wall_ns());
}

std::vector<SimNode> load_nodes(const std::string& path, std::size_t limit) {
  std::ifstream f(path);
  if (!f) die("cannot read " + path);
  std::vector<SimNode> nodes;
  std::string line;
  while (nodes.size() < limit && std::getline(f, line)) {
    const auto fields = split_tabs(line);
    SimNode n;
    wire::SecretKey key;
    if (fields.size() < 3 || !wire::NodeId::from_hex(fields[0], n.id) ||
        !wire::SecretKey::from_hex(fields[2], key))
      die("bad line in " + path + ": " + line);
    n.fqdn = fields[1];
    derive(n, key);
    nodes.push_back(std::move(n));
  }
  return nodes;
}

int cmd_gen(std::size_t count, const std::string& zone, const std::string& path) {
  if (zone.empty() || path.empty()) die("gen needs --zone and --out");
  std::ofstream f(path);
  if (!f) die("cannot write " + path);
  // VIPs from 100.64.0.1 upwards: distinct, inside the 100.64.0.0/12 pool
  // the benchmark configures (a /16 holds only 65,534 nodes).
  const std::uint32_t base = (100u << 24) | (64u << 16);
  if (count > (1u << 20) - 2) die("at most 1,048,574 nodes fit the /12 pool");
  for (std::size_t i = 0; i < count; ++i) {
    wire::NodeId id;
    wire::random_bytes(id.bytes);
    const auto key = wire::SecretKey::random();
    f << id.to_hex() << '\t' << 'n' << i << '.' << zone << '\t' << key.to_hex() << '\t'
      << wire::Vip{base + static_cast<std::uint32_t>(i) + 1}.to_string() << '\n';
  }
  if (!f.flush()) die("cannot write " + path);
  return 0;
}

// ---- one worker: a socket shared by its nodes ---------------------------

class Socket {
 public:
  Socket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) die("socket: " + std::string(std::strerror(errno)));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      die("bind: " + std::string(std::strerror(errno)));
    // Room for a whole window of answers arriving while the worker is busy
    // sending: a dropped answer would cost a retransmission timeout and be
    // charged to the DC.  (net.core.rmem_max caps it; the drops counter
    // below shows whether it sufficed.)
    const int size = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    // The kernel's arrival time of each datagram, to tell how long an
    // answer waited in this socket for the generator (Worker::arrived).
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    local_.addr = wire::IpAddr::v4(ntohl(a.sin_addr.s_addr));
    local_.port = ntohs(a.sin_port);
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const noexcept { return fd_; }
  const wire::Endpoint& local() const noexcept { return local_; }

 private:
  int fd_ = -1;
  wire::Endpoint local_;
};

sockaddr_in to_sockaddr(const wire::Endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(e.port);
  std::memcpy(&a.sin_addr, e.addr.bytes.data(), 4);
  return a;
}

struct Shared {
  std::vector<SimNode> nodes;
  std::unordered_map<wire::NodeId, std::uint32_t, IdHash> index;
  std::vector<sockaddr_in> dcs;  // a node sends to dcs[node.dc]
};

// Counters a worker keeps across phases.
struct WireStats {
  std::uint64_t sent = 0;
  std::uint64_t send_failed = 0;
  std::uint64_t received = 0;
  std::uint64_t undecodable = 0;  // not a header, not one of our nodes, or did not open
  std::uint64_t stray = 0;        // authentic but not expected in this phase
};

// A worker has two sockets: nodes start on the first and move to the
// second (a new source port, as after a change of network).
class Worker {
 public:
  static constexpr unsigned kSockets = 2;
  Worker(Shared& s, unsigned index) : s_(s), index_(index), aead_(wire::SecretKey::random()) {}
  // Nodes below this index get their own contexts (about 2 KB each, made
  // when first used); the others share aead_.
  static constexpr std::uint32_t kKeyedNodes = 20000;

  const wire::Endpoint& local(unsigned sock) const noexcept { return socks_[sock].local(); }
  WireStats stats;

  // Seals body as node n and sends it to its DC.
  void send(std::uint32_t n, const wire::Body& body, std::uint32_t txid) {
    send_to(n, body, txid, &s_.dcs[s_.nodes[n].dc]);
  }
  // Answers the message being handled (inside pump's fn) where it came
  // from: in a DC cluster or across zones, a Route Direction may come from
  // a DC process other than the node's own.
  void reply(std::uint32_t n, const wire::Body& body, std::uint32_t txid) {
    const sockaddr_in to = from_;
    send_to(n, body, txid, &to);
  }

  void send_to(std::uint32_t n, const wire::Body& body, std::uint32_t txid, const sockaddr_in* to) {
    SimNode& node = s_.nodes[n];
    wire::ControlHeader h;
    h.common.type = wire::type_of(body);
    h.common.domain = wire::KeyDomain::node_dc;
    h.common.role = wire::Role::node;
    h.common.key_epoch = 0;
    h.common.instance = node.instance;
    h.common.counter = node.counter++;
    h.common.id = node.id.bytes;
    h.timestamp_ms = common::wall_ms();
    h.txid = txid;
    wire::Error err = wire::Error::ok;
    const std::size_t len = wire::seal_control(sealer(n), h, body, tx_buf_, err);
    if (err != wire::Error::ok) die("seal failed: " + std::string(wire::to_string(err)));
    // Loopback does not drop on send unless the socket buffer is full;
    // then wait for room rather than count a loss the DC never saw.
    const int fd = socks_[node.sock].fd();
    for (int tries = 0; tries < 1000; ++tries) {
      if (::sendto(fd, tx_buf_.data(), len, 0, reinterpret_cast<const sockaddr*>(to),
                   sizeof *to) == static_cast<ssize_t>(len)) {
        ++stats.sent;
        return;
      }
      if (errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) break;
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1);
    }
    ++stats.send_failed;
  }

  // Waits up to `wait` for datagrams, then hands every authentic message
  // that has queued up to fn(node, header, body).
  template <class F>
  void pump(Clock::duration wait, F&& fn) {
    const auto ns = std::max<long long>(0, duration_cast<nanoseconds>(wait).count());
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    std::array<pollfd, kSockets> p{};
    for (unsigned i = 0; i < kSockets; ++i) p[i] = {socks_[i].fd(), POLLIN, 0};
    if (::ppoll(p.data(), kSockets, &ts, nullptr) <= 0) return;
    for (unsigned i = 0; i < kSockets; ++i)
      if (p[i].revents) drain(socks_[i].fd(), fn);
  }

  unsigned index() const noexcept { return index_; }
  std::uint32_t next_txid() noexcept { return next_txid_++; }
  // When the message being handled (inside pump's fn) reached the socket.
  Clock::time_point arrived() const noexcept { return arrived_; }

 private:
  template <class F>
  void drain(int fd, F& fn) {
    constexpr unsigned kBatch = 64;
    for (;;) {
      std::array<mmsghdr, kBatch> msgs{};
      std::array<iovec, kBatch> iov{};
      std::array<sockaddr_in, kBatch> names{};
      alignas(cmsghdr) std::array<std::array<char, CMSG_SPACE(sizeof(timespec))>, kBatch> ctl{};
      for (unsigned i = 0; i < kBatch; ++i) {
        iov[i] = {rx_buf_[i].data(), rx_buf_[i].size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &names[i];
        msgs[i].msg_hdr.msg_namelen = sizeof names[i];
        msgs[i].msg_hdr.msg_control = ctl[i].data();
        msgs[i].msg_hdr.msg_controllen = ctl[i].size();
      }
      const int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == ECONNREFUSED || errno == EINTR) continue;  // an ICMP error; try again
        return;
      }
      // Arrival stamps are CLOCK_REALTIME; map them onto the steady clock.
      const auto steady_now = Clock::now();
      const auto real_now = std::chrono::system_clock::now().time_since_epoch();
      for (int i = 0; i < n; ++i) {
        ++stats.received;
        const std::size_t size =
            std::min<std::size_t>(msgs[static_cast<unsigned>(i)].msg_len, NTM_MAX_CONTROL);
        from_ = names[static_cast<unsigned>(i)];
        arrived_ = steady_now;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[static_cast<unsigned>(i)].msg_hdr); c;
             c = CMSG_NXTHDR(&msgs[static_cast<unsigned>(i)].msg_hdr, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          const auto real = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
          arrived_ = steady_now - duration_cast<Clock::duration>(real_now - real);
        }
        handle({rx_buf_[static_cast<unsigned>(i)].data(), size}, fn);
      }
      if (n < static_cast<int>(kBatch)) return;
    }
  }

  template <class F>
  void handle(std::span<const std::uint8_t> d, F& fn) {
    wire::ControlHeader h;
    if (wire::peek_control_header(d, h) != wire::Error::ok ||
        h.common.domain != wire::KeyDomain::node_dc || h.common.role != wire::Role::dc) {
      ++stats.undecodable;
      return;
    }
    wire::NodeId id;
    id.bytes = h.common.id;
    const auto it = s_.index.find(id);
    if (it == s_.index.end() || s_.nodes[it->second].worker != index_) {
      ++stats.undecodable;
      return;
    }
    wire::Body body;
    if (wire::open_control(opener(it->second), d, h, body) != wire::Error::ok) {
      ++stats.undecodable;
      return;
    }
    fn(it->second, h, body);
  }

  Shared& s_;
  unsigned index_;
  std::array<Socket, kSockets> socks_;
  struct NodeAead {
    wire::Aead tx, rx;  // only sealing, only opening: one context each
  };
  NodeAead* keyed(std::uint32_t n) {
    if (n >= kKeyedNodes) return nullptr;
    if (keyed_.size() <= n) keyed_.resize(n + 1);
    if (!keyed_[n])
      keyed_[n].reset(new NodeAead{wire::Aead(s_.nodes[n].tx), wire::Aead(s_.nodes[n].rx)});
    return keyed_[n].get();
  }
  wire::Aead& sealer(std::uint32_t n) {
    if (NodeAead* k = keyed(n)) return k->tx;
    (void)aead_.rekey(s_.nodes[n].tx);
    return aead_;
  }
  wire::Aead& opener(std::uint32_t n) {
    if (NodeAead* k = keyed(n)) return k->rx;
    (void)aead_.rekey(s_.nodes[n].rx);
    return aead_;
  }

  wire::Aead aead_;
  std::vector<std::unique_ptr<NodeAead>> keyed_;
  std::uint32_t next_txid_ = 1;
  sockaddr_in from_{};  // source of the datagram being handled
  Clock::time_point arrived_{};  // and when it reached the socket
  std::array<std::uint8_t, NTM_MAX_CONTROL> tx_buf_{};
  std::array<std::array<std::uint8_t, NTM_MAX_CONTROL + 1>, 64> rx_buf_{};
};

// ---- phases ---------------------------------------------------------------

struct RegResult {
  std::uint64_t acked = 0;
  std::uint64_t retransmits = 0;
  std::uint64_t errors = 0;  // Error replies (e.g. "database unavailable")
  std::uint64_t failed = 0;  // never acknowledged before the phase deadline
  Samples latency;           // first send -> acknowledgement
  Clock::time_point first{Clock::time_point::max()}, last{Clock::time_point::min()};
  void merge(const RegResult& o) {
    acked += o.acked;
    retransmits += o.retransmits;
    errors += o.errors;
    failed += o.failed;
    latency.merge(o.latency);
    first = std::min(first, o.first);
    last = std::max(last, o.last);
  }
};

// Registers every node in todo once, keeping up to `window` requests
// outstanding; a request unanswered for `retry` is sent again (as a node
// would) and its latency still counts from the first send.
RegResult register_nodes(Worker& w, Shared& s, const std::vector<std::uint32_t>& todo,
                         unsigned window, Clock::duration retry, Clock::time_point deadline,
                         wire::RegistrationReason reason = wire::RegistrationReason::start) {
  struct Pending {
    std::uint32_t node;
    Clock::time_point first, last;
  };
  RegResult r;
  std::unordered_map<std::uint32_t, Pending> pending;
  pending.reserve(window * 2);
  std::size_t next = 0;
  auto request = [&](std::uint32_t n, std::uint32_t txid) {
    wire::RegistrationRequest req{
        wire::PartyKind::node, reason, wire::Fqdn{s.nodes[n].fqdn}, {w.local(s.nodes[n].sock)}};
    w.send(n, req, txid);
  };
  auto last_scan = Clock::now();
  while (next < todo.size() || !pending.empty()) {
    const auto now = Clock::now();
    if (now > deadline) break;
    while (pending.size() < window && next < todo.size()) {
      const std::uint32_t txid = w.next_txid();
      const auto t = Clock::now();
      r.first = std::min(r.first, t);
      pending.emplace(txid, Pending{todo[next], t, t});
      request(todo[next++], txid);
    }
    w.pump(milliseconds(5), [&](std::uint32_t n, const wire::ControlHeader& h, wire::Body& b) {
      auto it = pending.find(h.txid);
      if (it == pending.end() || it->second.node != n) {
        ++w.stats.stray;  // a duplicate answer to a retransmission
        return;
      }
      if (std::holds_alternative<wire::RegistrationResponse>(b)) {
        const auto t = Clock::now();
        r.latency.add(t - it->second.first);
        r.last = std::max(r.last, t);
        ++r.acked;
        pending.erase(it);
      } else if (std::holds_alternative<wire::ErrorReply>(b)) {
        ++r.errors;  // left pending: retried after `retry`
      } else {
        ++w.stats.stray;
      }
    });
    const auto t = Clock::now();
    if (t - last_scan > milliseconds(50)) {
      last_scan = t;
      for (auto& [txid, p] : pending)
        if (t - p.last > retry) {
          p.last = t;
          ++r.retransmits;
          request(p.node, txid);
        }
    }
  }
  r.failed = pending.size() + (todo.size() - next);
  return r;
}

struct DirResult {
  std::uint64_t sent = 0;
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;  // Error replies to Direction Requests
  std::uint64_t lost = 0;    // neither completed nor refused before the drain ended
  std::uint64_t responder_rd = 0;
  std::uint64_t dup_rd = 0;      // Route Directions retransmitted by the DC
  std::uint64_t not_direct = 0;  // routes other than direct (not expected here)
  Samples latency;               // Direction Request sent -> initiator's Route Direction
  Samples lag;                   // how late the generator sent against its schedule
  // Directions slower than kSlowMs: (send time, round trip), to tell one
  // pause (a cluster of them) from a slow path (spread over the phase).
  struct Slow {
    Clock::time_point sent;
    double ms;         // round trip
    double queued_ms;  // of which the answer waited in the generator's socket
    bool operator<(const Slow& o) const { return sent < o.sent; }
  };
  std::vector<Slow> slow;
  Clock::time_point first{Clock::time_point::max()}, last_send{Clock::time_point::min()},
      last_done{Clock::time_point::min()};
  void merge(const DirResult& o) {
    sent += o.sent;
    completed += o.completed;
    errors += o.errors;
    lost += o.lost;
    responder_rd += o.responder_rd;
    dup_rd += o.dup_rd;
    not_direct += o.not_direct;
    latency.merge(o.latency);
    lag.merge(o.lag);
    slow.insert(slow.end(), o.slow.begin(), o.slow.end());
    first = std::min(first, o.first);
    last_send = std::max(last_send, o.last_send);
    last_done = std::max(last_done, o.last_done);
  }
};

constexpr double kSlowMs = 5.0;

// Notes when the slow directions were sent, grouped into episodes (sends
// less than 50 ms apart): "12 at +3,412 ms for 71 ms, worst 77 ms".
void note_slow(std::vector<DirResult::Slow> slow, Clock::time_point t0) {
  std::sort(slow.begin(), slow.end());
  char start[96];
  std::snprintf(start, sizeof start, "the phase began at %.6f s of CLOCK_MONOTONIC",
                std::chrono::duration<double>(t0.time_since_epoch()).count());
  note(start);
  note(std::to_string(slow.size()) + " directions slower than " + std::to_string(int(kSlowMs)) +
       " ms; episodes (start after the phase began, length, count, worst, and the worst's"
       " waits in the generator's sockets, where one worker plays both ends):");
  int shown = 0;
  for (std::size_t i = 0; i < slow.size() && shown < 12;) {
    std::size_t j = i, worst = i;
    while (j + 1 < slow.size() && ms_between(slow[j].sent, slow[j + 1].sent) < 50.0)
      if (slow[++j].ms > slow[worst].ms) worst = j;
    char line[200];
    std::snprintf(line, sizeof line,
                  "  +%.0f ms, %.0f ms long, %zu directions, worst %.1f ms (%.1f ms queued)",
                  ms_between(t0, slow[i].sent), ms_between(slow[i].sent, slow[j].sent), j - i + 1,
                  slow[worst].ms, slow[worst].queued_ms);
    note(line);
    ++shown;
    i = j + 1;
  }
  double queued = 0, total = 0;
  for (const auto& x : slow) {
    queued += x.queued_ms;
    total += x.ms;
  }
  if (total > 0)
    note("  of the slow directions' time, " + std::to_string(int(100 * queued / total)) +
         "% was the Route Directions waiting in the generator's sockets");
}

// Open loop: Direction Requests leave on a fixed schedule (rate per worker,
// workers interleaved), whatever the DC's answers do, so a slow DC shows up
// as latency rather than as a lower offered rate.  Every Route Direction is
// acknowledged at once from the node it was sealed to: the responder's ack
// lets the DC move on to the initiator, the initiator's ends the direction.
//
// `outstanding` counts directions in flight over all workers and `senders`
// the workers still sending: a worker whose own requests are all answered
// keeps serving until both are zero, because its nodes may still be the
// responders of others' directions.
DirResult direct_pairs(Worker& w, Shared& s,
                       const std::vector<std::pair<std::uint32_t, std::uint32_t>>& pairs,
                       double rate, unsigned workers, Clock::time_point t0, Clock::time_point t_end,
                       Clock::duration drain, std::atomic<long>& outstanding,
                       std::atomic<int>& senders) {
  struct Pending {
    Clock::time_point sent;
    std::uint32_t txid;
    double responder_queued_ms = 0;  // when this worker also plays the responder
  };
  DirResult r;
  std::unordered_map<wire::PathId, Pending, IdHash> pending;
  // Only what is in flight: a map that kept every request would rehash
  // (both workers at once, at 10,273 and 21,023 entries) in the middle of
  // the phase, a pause of the generator that looked like the DC's.
  std::unordered_map<std::uint32_t, wire::PathId> by_txid;
  pending.reserve(8192);
  by_txid.reserve(8192);
  const double period_ns = 1e9 * workers / rate;
  const auto offset = nanoseconds(static_cast<long long>(1e9 * w.index() / rate));
  std::uint64_t k = 0;
  auto due = [&](std::uint64_t i) {
    return t0 + offset + nanoseconds(static_cast<long long>(period_ns * static_cast<double>(i)));
  };
  const auto give_up = t_end + drain;
  bool counted_out = false;
  for (;;) {
    auto now = Clock::now();
    while (!pairs.empty() && due(k) <= now && due(k) < t_end) {
      const auto& [mn, cn] = pairs[k % pairs.size()];
      wire::DirectionRequest req;
      wire::random_bytes(req.path_id.bytes);
      req.peer = wire::Fqdn{s.nodes[cn].fqdn};
      const std::uint32_t txid = w.next_txid();
      const auto t = Clock::now();
      r.lag.add(t - due(k));
      pending.emplace(req.path_id, Pending{t, txid});
      by_txid.emplace(txid, req.path_id);
      outstanding.fetch_add(1);
      w.send(mn, req, txid);
      ++r.sent;
      r.first = std::min(r.first, t);
      r.last_send = t;
      ++k;
      now = Clock::now();
    }
    const bool sending = !pairs.empty() && due(k) < t_end;
    if (!sending && !counted_out) {
      counted_out = true;
      senders.fetch_sub(1);
    }
    if (!sending && ((senders.load() == 0 && outstanding.load() == 0) || now > give_up)) break;
    const auto wait = sending ? std::max(due(k) - now, Clock::duration::zero()) : milliseconds(5);
    w.pump(wait, [&](std::uint32_t n, const wire::ControlHeader& h, wire::Body& b) {
      if (auto* rd = std::get_if<wire::RouteDirection>(&b)) {
        if (rd->route != wire::RouteType::direct) ++r.not_direct;
        w.reply(n,
               wire::RouteDirectionAck{rd->path_id, rd->key_epoch, wire::Status::ok,
                                       w.local(s.nodes[n].sock)},
               h.txid);
        if (rd->you_are == wire::PathEnd::responder) {
          ++r.responder_rd;
          if (auto p = pending.find(rd->path_id); p != pending.end())
            p->second.responder_queued_ms = ms_between(w.arrived(), Clock::now());
          return;
        }
        auto it = pending.find(rd->path_id);
        if (it == pending.end()) {
          ++r.dup_rd;
          return;
        }
        const auto t = Clock::now();
        r.latency.add(t - it->second.sent);
        if (const double ms = ms_between(it->second.sent, t); ms > kSlowMs && r.slow.size() < 100'000)
          r.slow.push_back({it->second.sent, ms,
                            ms_between(w.arrived(), t) + it->second.responder_queued_ms});
        r.last_done = std::max(r.last_done, t);
        ++r.completed;
        by_txid.erase(it->second.txid);
        pending.erase(it);
        outstanding.fetch_sub(1);
      } else if (auto* e = std::get_if<wire::ErrorReply>(&b)) {
        if (e->ref_type != wire::MsgType::direction_request) return void(++w.stats.stray);
        ++r.errors;
        if (r.errors <= 3) note("direction error: " + e->reason.value);
        if (auto t = by_txid.find(h.txid); t != by_txid.end()) {
          if (pending.erase(t->second)) outstanding.fetch_sub(1);
          by_txid.erase(t);
        }
      } else {
        ++w.stats.stray;
      }
    });
  }
  r.lost = pending.size();
  return r;
}

// ---- the run ----------------------------------------------------------------

struct RunOptions {
  std::string dc;
  std::string nodes_file;
  std::size_t limit = SIZE_MAX;  // nodes read from the file
  std::size_t storm = 10'000;
  unsigned threads = 2;
  // Outstanding registrations per thread.  The DC's socket keeps the
  // kernel's default receive buffer (net.core.rmem_default, 212,992 bytes
  // here), which holds 256 Registration Requests: 2 threads x 100 leave
  // room, while more overflow it in bursts (each loss then costs a 1 s
  // retransmission), with no gain in rate (bench/run_dc_bench.sh).
  unsigned window = 100;
  double retry_s = 1.0;
  double dir_rate = 5'000;
  double dir_seconds = 10;
  std::size_t moves = 0;  // storm nodes that re-register from a new port after the directions
  bool register_all = true;
  long dc_pid = 0;
  std::string hook;  // run with the phase name after each phase (database counters)
};

struct Rss {
  long rss_kb = 0, hwm_kb = 0;
};

Rss read_rss(long pid) {
  Rss r;
  if (pid <= 0) return r;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.rss_kb = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) r.hwm_kb = std::atol(line.c_str() + 6);
  }
  return r;
}

void print_rss(const char* name, long pid) {
  const Rss r = read_rss(pid);
  if (pid <= 0) return;
  out((std::string("rss_kb_") + name).c_str(), static_cast<double>(r.rss_kb));
  out((std::string("hwm_kb_") + name).c_str(), static_cast<double>(r.hwm_kb));
}

void run_hook(const RunOptions& o, const char* phase) {
  if (o.hook.empty()) return;
  const std::string cmd = o.hook + " " + phase;
  if (std::system(cmd.c_str()) != 0) note(std::string("hook failed after ") + phase);
}

// Runs fn(worker) on every worker at once and waits for all.
void on_workers(std::vector<std::unique_ptr<Worker>>& ws, const std::function<void(Worker&)>& fn) {
  std::latch start(static_cast<std::ptrdiff_t>(ws.size()));
  std::vector<std::thread> ts;
  for (auto& w : ws)
    ts.emplace_back([&, wp = w.get()] {
      start.arrive_and_wait();
      fn(*wp);
    });
  for (auto& t : ts) t.join();
}

void report_registrations(const char* prefix, RegResult& r, std::size_t nodes) {
  const std::string p(prefix);
  const double secs = r.acked ? ms_between(r.first, r.last) / 1000.0 : 0;
  out((p + "_nodes").c_str(), static_cast<double>(nodes));
  out((p + "_acked").c_str(), static_cast<double>(r.acked));
  out((p + "_seconds").c_str(), secs);
  out((p + "_per_s").c_str(), secs > 0 ? static_cast<double>(r.acked) / secs : 0);
  out((p + "_p50_ms").c_str(), r.latency.pct_ms(50));
  out((p + "_p99_ms").c_str(), r.latency.pct_ms(99));
  out((p + "_max_ms").c_str(), r.latency.pct_ms(100));
  out((p + "_retransmits").c_str(), static_cast<double>(r.retransmits));
  out((p + "_errors").c_str(), static_cast<double>(r.errors));
  out((p + "_failed").c_str(), static_cast<double>(r.failed));
}

// One registration from one node, waited for: the DC's writer commits in
// queue order, so its acknowledgement means every write queued before it
// (path records of the direction phase included) is committed.  Returns
// the wait in milliseconds, or -1.
double drain_barrier(Worker& w, Shared& s, std::uint32_t node) {
  const auto t0 = Clock::now();
  auto r = register_nodes(w, s, {node}, 1, milliseconds(2000), t0 + std::chrono::seconds(60));
  return r.acked ? ms_between(t0, Clock::now()) : -1;
}

// "A,B,...": IPv4 loopback endpoints (load only ever goes to this
// machine's loopback).
std::vector<sockaddr_in> parse_dcs(const std::string& text, const char* option) {
  std::vector<sockaddr_in> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    wire::Endpoint e;
    if (!common::parse_endpoint(text.substr(start, comma - start), e) ||
        e.addr.family != wire::Family::v4 || e.addr.bytes[0] != 127)
      die(std::string(option) + " must list IPv4 loopback ADDR:PORT endpoints");
    out.push_back(to_sockaddr(e));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

int cmd_run(const RunOptions& o) {
  if (o.threads == 0 || o.window == 0) die("--threads and --window must be positive");

  Shared s;
  s.dcs = parse_dcs(o.dc, "--dc");
  out("dc_processes", static_cast<double>(s.dcs.size()));
  const auto t_load = Clock::now();
  s.nodes = load_nodes(o.nodes_file, o.limit);
  const std::size_t n = s.nodes.size();
  if (n < 2) die("need at least two nodes");
  const std::size_t storm = std::min(o.storm, n);
  s.index.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    s.index.emplace(s.nodes[i].id, i);
    s.nodes[i].worker = i % o.threads;
    // Spread over the cluster's processes: the two ends of a direction
    // pair (nodes 2p and 2p+1) sit on different processes when there are
    // several, so directions also cross processes.
    s.nodes[i].dc = i % static_cast<unsigned>(s.dcs.size());
  }
  note("loaded and derived keys of " + std::to_string(n) + " nodes in " +
       std::to_string(static_cast<long>(ms_between(t_load, Clock::now()))) + " ms");
  out("nodes_total", static_cast<double>(n));
  out("threads", o.threads);
  out("window_per_thread", o.window);

  std::vector<std::unique_ptr<Worker>> ws;
  for (unsigned i = 0; i < o.threads; ++i) ws.push_back(std::make_unique<Worker>(s, i));
  const auto retry = duration_cast<Clock::duration>(duration<double>(o.retry_s));
  auto by_worker = [&](std::size_t from, std::size_t to) {
    std::vector<std::vector<std::uint32_t>> v(o.threads);
    for (std::size_t i = from; i < to; ++i)
      v[s.nodes[i].worker].push_back(static_cast<std::uint32_t>(i));
    return v;
  };

  print_rss("loaded", o.dc_pid);
  run_hook(o, "before_storm");

  // (a) Registration storm: `storm` nodes, each registers once.
  {
    auto todo = by_worker(0, storm);
    std::vector<RegResult> rs(o.threads);
    const auto deadline = Clock::now() + std::chrono::seconds(300);
    on_workers(ws, [&](Worker& w) {
      rs[w.index()] = register_nodes(w, s, todo[w.index()], o.window, retry, deadline);
    });
    RegResult all;
    for (auto& r : rs) all.merge(r);
    report_registrations("storm", all, storm);
  }
  run_hook(o, "after_storm");
  print_rss("after_storm", o.dc_pid);

  // (b) Directions between pairs of registered nodes, paced.
  if (o.dir_rate > 0 && o.dir_seconds > 0 && storm >= 2) {
    std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> pairs(o.threads);
    for (std::uint32_t p = 0; 2 * p + 1 < storm; ++p) {
      // Alternate who initiates so that every worker sends requests.
      const std::uint32_t a = 2 * p, b = 2 * p + 1;
      const auto mn = (p % 2) ? b : a, cn = (p % 2) ? a : b;
      pairs[s.nodes[mn].worker].emplace_back(mn, cn);
    }
    std::vector<DirResult> rs(o.threads);
    std::atomic<long> outstanding{0};
    std::atomic<int> senders{static_cast<int>(o.threads)};
    const auto t0 = Clock::now() + milliseconds(20);
    const auto t_end = t0 + duration_cast<Clock::duration>(duration<double>(o.dir_seconds));
    on_workers(ws, [&](Worker& w) {
      rs[w.index()] = direct_pairs(w, s, pairs[w.index()], o.dir_rate, o.threads, t0, t_end,
                                   std::chrono::seconds(5), outstanding, senders);
    });
    DirResult all;
    for (auto& r : rs) all.merge(r);
    const double send_s = ms_between(all.first, all.last_send) / 1000.0;
    const double done_s = ms_between(all.first, all.last_done) / 1000.0;
    out("dir_pairs", static_cast<double>(storm / 2));
    out("dir_offered_per_s", o.dir_rate);
    out("dir_seconds", o.dir_seconds);
    out("dir_sent", static_cast<double>(all.sent));
    out("dir_sent_per_s", send_s > 0 ? static_cast<double>(all.sent) / send_s : 0);
    out("dir_completed", static_cast<double>(all.completed));
    // Completed directions over the time from the first request to the
    // last completion: what the DC sustained, tail included.
    out("dir_achieved_per_s", done_s > 0 ? static_cast<double>(all.completed) / done_s : 0);
    out("dir_p50_ms", all.latency.pct_ms(50));
    out("dir_p99_ms", all.latency.pct_ms(99));
    out("dir_p999_ms", all.latency.pct_ms(99.9));
    out("dir_max_ms", all.latency.pct_ms(100));
    out("dir_errors", static_cast<double>(all.errors));
    out("dir_lost", static_cast<double>(all.lost));
    out("dir_responder_rd", static_cast<double>(all.responder_rd));
    out("dir_duplicate_rd", static_cast<double>(all.dup_rd));
    out("dir_not_direct", static_cast<double>(all.not_direct));
    out("dir_send_lag_p99_ms", all.lag.pct_ms(99));
    out("dir_send_lag_max_ms", all.lag.pct_ms(100));
    note_slow(all.slow, t0);
    out("dir_drain_ms", drain_barrier(*ws[0], s, 0));
    run_hook(o, "after_directions");
    print_rss("after_directions", o.dc_pid);
  }

  // (c) Moves: nodes re-register from a new source port, as after a change
  // of network, with the paths just directed in the DC's view.
  if (o.moves > 0) {
    const std::size_t m = std::min(o.moves, storm);
    for (std::size_t i = 0; i < m; ++i) s.nodes[i].sock = 1;
    auto todo = by_worker(0, m);
    std::vector<RegResult> rs(o.threads);
    const auto deadline = Clock::now() + std::chrono::seconds(300);
    on_workers(ws, [&](Worker& w) {
      rs[w.index()] = register_nodes(w, s, todo[w.index()], o.window, retry, deadline,
                                     wire::RegistrationReason::move);
    });
    RegResult all;
    for (auto& r : rs) all.merge(r);
    report_registrations("move", all, m);
    run_hook(o, "after_moves");
  }

  // (d) Every remaining node registers, so that the DC holds all of them.
  if (o.register_all && storm < n) {
    auto todo = by_worker(storm, n);
    std::vector<RegResult> rs(o.threads);
    const auto deadline = Clock::now() + std::chrono::seconds(600);
    on_workers(ws, [&](Worker& w) {
      rs[w.index()] = register_nodes(w, s, todo[w.index()], o.window, retry, deadline);
    });
    RegResult all;
    for (auto& r : rs) all.merge(r);
    report_registrations("rest", all, n - storm);
    run_hook(o, "after_all");
    // Let the allocator and the writer settle before sampling the RSS.
    std::this_thread::sleep_for(milliseconds(500));
    print_rss("all_registered", o.dc_pid);
  }

  WireStats ws_all;
  for (auto& w : ws) {
    ws_all.sent += w->stats.sent;
    ws_all.send_failed += w->stats.send_failed;
    ws_all.received += w->stats.received;
    ws_all.undecodable += w->stats.undecodable;
    ws_all.stray += w->stats.stray;
  }
  out("gen_sent", static_cast<double>(ws_all.sent));
  out("gen_send_failed", static_cast<double>(ws_all.send_failed));
  out("gen_received", static_cast<double>(ws_all.received));
  out("gen_undecodable", static_cast<double>(ws_all.undecodable));
  out("gen_stray", static_cast<double>(ws_all.stray));
  return 0;
}

// ---- cross-zone directions ------------------------------------------------

struct XzoneOptions {
  std::string dc, nodes, cn_dc, cn_nodes;
  std::size_t pairs = 200;
  double timeout_s = 5;
};

struct SerialDirs {
  Samples latency;
  std::uint64_t errors = 0, lost = 0, not_direct = 0;
};

// Directs mn to cn and waits for the MN's Route Direction (every Route
// Direction on the way is acknowledged to where it came from).  One at a
// time: this measures the round trip, not throughput.  The request is sent
// again after 1 s unanswered, as ntmd does.
void direct_serial(Worker& w, Shared& s, std::uint32_t mn, std::uint32_t cn, double timeout_s,
                   SerialDirs& r) {
  wire::DirectionRequest req;
  wire::random_bytes(req.path_id.bytes);
  req.peer = wire::Fqdn{s.nodes[cn].fqdn};
  const std::uint32_t txid = w.next_txid();
  const auto t0 = Clock::now();
  auto last = t0;
  w.send(mn, req, txid);
  const auto deadline = t0 + duration_cast<Clock::duration>(duration<double>(timeout_s));
  bool done = false;
  while (!done && Clock::now() < deadline) {
    w.pump(milliseconds(2), [&](std::uint32_t n, const wire::ControlHeader& h, wire::Body& b) {
      if (auto* rd = std::get_if<wire::RouteDirection>(&b)) {
        w.reply(n,
                wire::RouteDirectionAck{rd->path_id, rd->key_epoch, wire::Status::ok,
                                        w.local(s.nodes[n].sock)},
                h.txid);
        if (n != mn || rd->you_are != wire::PathEnd::initiator || rd->path_id != req.path_id)
          return;
        if (done) return;  // a retransmission
        r.latency.add(Clock::now() - t0);
        if (rd->route != wire::RouteType::direct) ++r.not_direct;
        done = true;
      } else if (auto* e = std::get_if<wire::ErrorReply>(&b)) {
        if (n != mn || h.txid != txid || done) return void(++w.stats.stray);
        ++r.errors;
        if (r.errors <= 3) note("direction error: " + e->reason.value);
        done = true;
      } else if (!std::holds_alternative<wire::Keepalive>(b)) {
        ++w.stats.stray;
      }
    });
    if (!done && Clock::now() - last > std::chrono::seconds(1)) {
      last = Clock::now();
      w.send(mn, req, txid);
    }
  }
  if (!done) ++r.lost;
  // Let late retransmissions of this direction's messages be acknowledged
  // before the next one starts timing.
  w.pump(milliseconds(1), [&](std::uint32_t n, const wire::ControlHeader& h, wire::Body& b) {
    if (auto* rd = std::get_if<wire::RouteDirection>(&b))
      w.reply(n,
              wire::RouteDirectionAck{rd->path_id, rd->key_epoch, wire::Status::ok,
                                      w.local(s.nodes[n].sock)},
              h.txid);
  });
}

void report_serial(const char* prefix, SerialDirs& r) {
  const std::string p(prefix);
  out((p + "_p50_ms").c_str(), r.latency.pct_ms(50));
  out((p + "_p99_ms").c_str(), r.latency.pct_ms(99));
  out((p + "_max_ms").c_str(), r.latency.pct_ms(100));
  out((p + "_completed").c_str(), static_cast<double>(r.latency.us.size()));
  out((p + "_errors").c_str(), static_cast<double>(r.errors));
  out((p + "_lost").c_str(), static_cast<double>(r.lost));
  out((p + "_not_direct").c_str(), static_cast<double>(r.not_direct));
}

int cmd_xzone(const XzoneOptions& o) {
  if (o.pairs == 0) die("--pairs must be positive");
  Shared s;
  s.dcs = parse_dcs(o.dc, "--dc");
  const auto cn_dcs = parse_dcs(o.cn_dc, "--cn-dc");
  if (s.dcs.size() != 1 || cn_dcs.size() != 1) die("xzone takes one endpoint per zone");
  s.dcs.push_back(cn_dcs[0]);
  s.nodes = load_nodes(o.nodes, o.pairs + 1);
  const auto a_count = static_cast<std::uint32_t>(s.nodes.size());
  if (a_count < o.pairs + 1) die("--nodes needs at least pairs + 1 nodes");
  for (auto& n : load_nodes(o.cn_nodes, o.pairs)) {
    n.dc = 1;
    s.nodes.push_back(std::move(n));
  }
  if (s.nodes.size() < a_count + o.pairs) die("--cn-nodes needs at least pairs nodes");
  for (std::uint32_t i = 0; i < s.nodes.size(); ++i) s.index.emplace(s.nodes[i].id, i);

  Worker w(s, 0);
  std::vector<std::uint32_t> all(s.nodes.size());
  for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  auto reg = register_nodes(w, s, all, 50, std::chrono::seconds(1),
                            Clock::now() + std::chrono::seconds(60));
  if (reg.acked != all.size())
    die("only " + std::to_string(reg.acked) + " of " + std::to_string(all.size()) +
        " nodes registered");
  out("xz_pairs", static_cast<double>(o.pairs));

  // Cold: DC_A resolves each B name for the first time.  Warm: the same
  // names again.  Local: the same DC_A, a name in its own zone (no DNS, no
  // DC_B): the reference the cross-zone cost is measured against.
  SerialDirs cold, warm, local;
  for (std::uint32_t i = 0; i < o.pairs; ++i) direct_serial(w, s, i, a_count + i, o.timeout_s, cold);
  for (std::uint32_t i = 0; i < o.pairs; ++i) direct_serial(w, s, i, a_count + i, o.timeout_s, warm);
  for (std::uint32_t i = 0; i < o.pairs; ++i) direct_serial(w, s, i, i + 1, o.timeout_s, local);
  report_serial("xz_cold", cold);
  report_serial("xz_warm", warm);
  report_serial("local", local);
  out("gen_stray", static_cast<double>(w.stats.stray));
  out("gen_undecodable", static_cast<double>(w.stats.undecodable));
  return 0;
}

// ---- restart probe -----------------------------------------------------

int cmd_probe(const std::string& dc_text, const std::string& creds_file, int interval_ms,
              double timeout_s) {
  wire::Endpoint dc;
  if (!common::parse_endpoint(dc_text, dc) || dc.addr.family != wire::Family::v4 ||
      dc.addr.bytes[0] != 127)
    die("--dc must be an IPv4 loopback ADDR:PORT");
  const auto creds = sim::load_credentials(creds_file);
  sim::NodeClient node(creds, dc);
  // Ready to probe: the script starts the DC only after this line.
  std::printf("probing\n");
  std::fflush(stdout);
  const auto t0 = Clock::now();
  const auto deadline = t0 + duration_cast<Clock::duration>(duration<double>(timeout_s));
  std::uint64_t attempts = 0;
  while (Clock::now() < deadline) {
    wire::RegistrationRequest req{wire::PartyKind::node,
                                  wire::RegistrationReason::start,
                                  wire::Fqdn{creds.name},
                                  {node.local()}};
    node.send(req);
    ++attempts;
    // Any answer counts, including one to an earlier attempt.
    const auto until = Clock::now() + milliseconds(interval_ms);
    while (Clock::now() < until) {
      const auto left = duration_cast<milliseconds>(until - Clock::now()).count();
      auto r = node.receive(static_cast<int>(std::max<long long>(1, left)));
      if (!r) break;
      if (std::holds_alternative<wire::RegistrationResponse>(r->body)) {
        std::printf("probe_answered_unix_ns %llu\n",
                    static_cast<unsigned long long>(common::wall_ns()));
        out("probe_attempts", static_cast<double>(attempts));
        return 0;
      }
    }
  }
  out("probe_attempts", static_cast<double>(attempts));
  die("no registration answer within the timeout");
}

int cmd_free_port() {
  wire::Endpoint e;
  e.addr = wire::IpAddr::v4(0x7f000001);
  common::UdpSocket s(e);
  std::printf("%u\n", static_cast<unsigned>(s.local().port));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: ntm_bench_dc gen|run|xzone|probe|free-port [options]");
  const std::string_view cmd = argv[1];
  RunOptions o;
  XzoneOptions xo;
  std::size_t count = 0;
  std::string zone, out_file, creds;
  int interval_ms = 5;
  double timeout_s = 30;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(std::string(a) + " needs a value");
      return argv[++i];
    };
    auto number = [&]() { return std::strtod(value().c_str(), nullptr); };
    if (a == "--count")
      count = static_cast<std::size_t>(number());
    else if (a == "--zone")
      zone = value();
    else if (a == "--out")
      out_file = value();
    else if (a == "--dc")
      o.dc = value();
    else if (a == "--nodes")
      o.nodes_file = value();
    else if (a == "--limit")
      o.limit = static_cast<std::size_t>(number());
    else if (a == "--storm")
      o.storm = static_cast<std::size_t>(number());
    else if (a == "--threads")
      o.threads = static_cast<unsigned>(number());
    else if (a == "--window")
      o.window = static_cast<unsigned>(number());
    else if (a == "--retry-s")
      o.retry_s = number();
    else if (a == "--dir-rate")
      o.dir_rate = number();
    else if (a == "--dir-seconds")
      o.dir_seconds = number();
    else if (a == "--no-register-all")
      o.register_all = false;
    else if (a == "--moves")
      o.moves = static_cast<std::size_t>(number());
    else if (a == "--dc-pid")
      o.dc_pid = static_cast<long>(number());
    else if (a == "--hook")
      o.hook = value();
    else if (a == "--credentials")
      creds = value();
    else if (a == "--interval-ms")
      interval_ms = static_cast<int>(number());
    else if (a == "--timeout-s")
      timeout_s = number();
    else if (a == "--cn-dc")
      xo.cn_dc = value();
    else if (a == "--cn-nodes")
      xo.cn_nodes = value();
    else if (a == "--pairs")
      xo.pairs = static_cast<std::size_t>(number());
    else
      die("unknown option " + std::string(a));
  }
  try {
    if (cmd == "gen") return cmd_gen(count, zone, out_file);
    if (cmd == "run") {
      if (o.dc.empty() || o.nodes_file.empty()) die("run needs --dc and --nodes");
      return cmd_run(o);
    }
    if (cmd == "xzone") {
      xo.dc = o.dc;
      xo.nodes = o.nodes_file;
      if (xo.dc.empty() || xo.nodes.empty() || xo.cn_dc.empty() || xo.cn_nodes.empty())
        die("xzone needs --dc, --nodes, --cn-dc and --cn-nodes");
      return cmd_xzone(xo);
    }
    if (cmd == "probe") {
      if (o.dc.empty() || creds.empty()) die("probe needs --dc and --credentials");
      return cmd_probe(o.dc, creds, interval_ms, timeout_s);
    }
    if (cmd == "free-port") return cmd_free_port();
  } catch (const std::exception& e) {
    die(e.what());
  }
  die("unknown command " + std::string(cmd));
}
