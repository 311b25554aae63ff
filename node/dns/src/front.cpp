// SPDX-License-Identifier: MIT
// DnsFront.  Everything runs on the io_context's thread.  The front owns
// its State through the only shared_ptr; asio handlers and the `done`
// closures handed to the daemon hold weak_ptrs, so destroying the front
// frees everything at once and whatever fires later finds nothing.  A
// handler that is running holds a shared_ptr for its duration, so the
// daemon may even destroy the front from inside its callback.
#include "ntm/node/dns/front.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ntm/node/dns/message.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::node::dns {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using boost::system::error_code;

namespace {

// UDP datagrams are at most this large; one buffer per socket.
constexpr std::size_t kMaxDatagram = 65536;
// Attempts to find an id no pending forward uses (the table is at most a
// few percent of the id space, so one try nearly always does).
constexpr int kIdTries = 64;

bool debug_on() {
  return spdlog::should_log(spdlog::level::debug);
}

std::string text(const udp::endpoint& ep) {
  error_code ec;
  const auto addr = ep.address().to_string(ec);
  return ep.address().is_v6() ? "[" + addr + "]:" + std::to_string(ep.port())
                              : addr + ":" + std::to_string(ep.port());
}

struct AtomicCounters {
  std::atomic<std::uint64_t> queries{0}, intercepted{0}, callbacks{0}, passthrough{0},
      servfail_timeouts{0}, late_answers{0}, formerr{0}, notimp{0}, dropped{0}, full{0},
      upstream_timeouts{0}, upstream_dropped{0}, upstream_errors{0}, send_errors{0};
};

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t get(const std::atomic<std::uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

// A client waiting for an intercepted name.
struct Waiter {
  explicit Waiter(asio::io_context& io) : timer(io) {}
  std::uint64_t serial = 0;
  udp::endpoint client;
  Query query;
  asio::steady_timer timer;  // tunnel_wait_ms from this client's query
};

// One name the daemon was asked about, and everyone waiting for it.
struct Inflight {
  std::uint64_t serial = 0;  // tells this call's `done` from an earlier one's
  std::vector<std::unique_ptr<Waiter>> waiters;
};

// A query relayed to the upstream, keyed by the id it was sent with.
struct Pending {
  explicit Pending(asio::io_context& io) : timer(io) {}
  std::uint64_t serial = 0;
  udp::endpoint client;
  Query query;  // the client's id, and the question the reply must carry
  asio::steady_timer timer;
};

}  // namespace

struct DnsFront::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io_ctx, FrontConfig c, ResolveFn r)
      : io(io_ctx),
        cfg(std::move(c)),
        resolve(std::move(r)),
        client_buf(kMaxDatagram),
        upstream_buf(kMaxDatagram),
        listen_sock(io_ctx),
        upstream_sock(io_ctx) {}

  asio::io_context& io;
  const FrontConfig cfg;
  ResolveFn resolve;
  bool stopped = false;
  std::uint64_t next_serial = 0;
  std::size_t waiting = 0;  // Waiters in all of `inflight`
  std::unordered_map<std::string, Inflight> inflight;
  std::unordered_map<std::uint16_t, std::unique_ptr<Pending>> pending;
  std::random_device rng;  // getrandom(): ids an off-path spoofer cannot predict
  AtomicCounters n;

  std::vector<std::uint8_t> client_buf, upstream_buf;
  udp::endpoint client_from, upstream_from;
  // Last: destroyed (closed) first, before the buffers their reads target.
  udp::socket listen_sock, upstream_sock;

  void open() {
    listen_sock.open(cfg.listen.protocol());
    listen_sock.bind(cfg.listen);
    listen_sock.non_blocking(true);  // a full send buffer drops, never blocks the thread
    upstream_sock.open(cfg.upstream.protocol());
    upstream_sock.bind(udp::endpoint(cfg.upstream.protocol(), 0));
    upstream_sock.non_blocking(true);
    receive_client();
    receive_upstream();
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    error_code ignored;
    listen_sock.close(ignored);
    upstream_sock.close(ignored);
    inflight.clear();  // destroys the timers: their handlers see operation_aborted
    pending.clear();
    waiting = 0;
  }

  // --- receiving --------------------------------------------------------

  void receive_client() {
    listen_sock.async_receive_from(
        asio::buffer(client_buf), client_from,
        [w = weak_from_this()](const error_code& ec, std::size_t size) {
          auto self = w.lock();
          if (!self || self->stopped || ec == asio::error::operation_aborted) return;
          if (!ec) {
            self->on_client(std::span<const std::uint8_t>(self->client_buf.data(), size));
          } else {
            spdlog::debug("dns: receive on {}: {}", text(self->cfg.listen), ec.message());
          }
          if (!self->stopped) self->receive_client();
        });
  }

  void receive_upstream() {
    upstream_sock.async_receive_from(
        asio::buffer(upstream_buf), upstream_from,
        [w = weak_from_this()](const error_code& ec, std::size_t size) {
          auto self = w.lock();
          if (!self || self->stopped || ec == asio::error::operation_aborted) return;
          if (!ec) {
            self->on_upstream(std::span<std::uint8_t>(self->upstream_buf.data(), size));
          } else {
            spdlog::debug("dns: receive from upstream: {}", ec.message());
          }
          if (!self->stopped) self->receive_upstream();
        });
  }

  void send(const udp::endpoint& to, std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) {  // the builder failed (out of memory)
      bump(n.send_errors);
      return;
    }
    error_code ec;
    listen_sock.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
    if (ec) {
      bump(n.send_errors);
      spdlog::debug("dns: send to {}: {}", text(to), ec.message());
    }
  }

  // --- the client side --------------------------------------------------

  void on_client(std::span<const std::uint8_t> dgram) {
    ParsedQuery p = parse_query(dgram);
    const udp::endpoint from = client_from;
    switch (p.status) {
      case QueryStatus::drop:
        bump(n.dropped);
        spdlog::debug("dns: {} bytes from {} dropped (short or a response)", dgram.size(),
                      text(from));
        return;
      case QueryStatus::formerr:
      case QueryStatus::badvers:
      case QueryStatus::notimp:
        bump(p.status == QueryStatus::notimp ? n.notimp : n.formerr);
        spdlog::debug("dns: query from {} answered {}", text(from), to_string(p.status));
        send(from, build_reject(p));
        return;
      case QueryStatus::ok:
        break;
    }
    bump(n.queries);
    Query& q = p.query;
    const bool ours = q.qclass == kClassIn && (q.qtype == kTypeA || q.qtype == kTypeAaaa) &&
                      cfg.policy.intercepts(q.name);
    if (!ours) {
      forward(from, dgram, std::move(q));
      return;
    }
    bump(n.intercepted);
    if (q.qtype == kTypeAaaa) {  // the VIP world is IPv4
      if (debug_on()) spdlog::debug("dns: {} AAAA from {}: NODATA", q.name, text(from));
      send(from, build_empty(q, Rcode::noerror));
      return;
    }
    intercept(from, std::move(q));
  }

  void intercept(const udp::endpoint& from, Query q) {
    if (waiting >= cfg.max_waiting) {
      bump(n.full);
      spdlog::debug("dns: {} A from {}: {} waiting already, SERVFAIL", q.name, text(from), waiting);
      send(from, build_empty(q, Rcode::servfail));
      return;
    }
    auto [it, fresh] = inflight.try_emplace(q.name);
    Inflight& inf = it->second;
    if (fresh) {
      inf.serial = ++next_serial;
    } else {
      for (const auto& w : inf.waiters) {
        if (w->client == from && w->query.id == q.id) {  // a retransmission: one answer will do
          spdlog::debug("dns: {} A from {}: retransmission, still waiting", q.name, text(from));
          return;
        }
      }
    }
    const std::string name = it->first;  // copies: `it` may not survive the callback
    const std::uint64_t inf_serial = inf.serial;

    auto w = std::make_unique<Waiter>(io);
    w->serial = ++next_serial;
    w->client = from;
    w->query = std::move(q);
    w->timer.expires_after(std::chrono::milliseconds(cfg.tunnel_wait_ms));
    w->timer.async_wait(
        [wk = weak_from_this(), name, inf_serial, ws = w->serial](const error_code& ec) {
          if (ec) return;
          auto self = wk.lock();
          if (self && !self->stopped) self->on_wait_timeout(name, inf_serial, ws);
        });
    inf.waiters.push_back(std::move(w));
    ++waiting;
    if (debug_on()) {
      spdlog::debug("dns: {} A from {}: {}", name, text(from),
                    fresh ? "asking the daemon" : "joins the outstanding request");
    }
    if (!fresh) return;

    bump(n.callbacks);
    std::function<void(Answer)> done = [wk = weak_from_this(), name, inf_serial](Answer a) {
      auto self = wk.lock();
      if (!self) return;
      if (self->io.get_executor().running_in_this_thread()) {
        self->finish(name, inf_serial, a);
        return;
      }
      asio::post(self->io, [wk, name, inf_serial, a] {
        if (auto s = wk.lock()) s->finish(name, inf_serial, a);
      });
    };
    try {
      resolve(name, std::move(done));
    } catch (const std::exception& e) {
      spdlog::warn("dns: resolver callback for {} threw: {}", name, e.what());
      finish(name, inf_serial, Answer::servfail());
    } catch (...) {
      spdlog::warn("dns: resolver callback for {} threw", name);
      finish(name, inf_serial, Answer::servfail());
    }
  }

  void finish(const std::string& name, std::uint64_t inf_serial, const Answer& a) {
    if (stopped) return;
    auto it = inflight.find(name);
    if (it == inflight.end() || it->second.serial != inf_serial) {
      bump(n.late_answers);
      spdlog::debug("dns: {}: answer after the bound, ignored", name);
      return;
    }
    auto waiters = std::move(it->second.waiters);
    inflight.erase(it);
    waiting -= waiters.size();
    if (debug_on()) {
      const char* what = a.kind == Answer::Kind::address    ? "address"
                         : a.kind == Answer::Kind::nxdomain ? "NXDOMAIN"
                                                            : "SERVFAIL";
      spdlog::debug("dns: {}: {} {} to {} client(s)", name, what,
                    a.kind == Answer::Kind::address ? wire::Vip{a.ipv4}.to_string() : "",
                    waiters.size());
    }
    for (const auto& w : waiters) {
      switch (a.kind) {
        case Answer::Kind::address: {
          const std::uint32_t addr[1] = {a.ipv4};
          send(w->client, build_a_answer(w->query, addr, a.ttl_s));
          break;
        }
        case Answer::Kind::nxdomain:
          send(w->client, build_empty(w->query, Rcode::nxdomain));
          break;
        case Answer::Kind::servfail:
          send(w->client, build_empty(w->query, Rcode::servfail));
          break;
      }
    }
  }

  void on_wait_timeout(const std::string& name, std::uint64_t inf_serial,
                       std::uint64_t waiter_serial) {
    auto it = inflight.find(name);
    if (it == inflight.end() || it->second.serial != inf_serial) return;
    auto& ws = it->second.waiters;
    for (auto wi = ws.begin(); wi != ws.end(); ++wi) {
      if ((*wi)->serial != waiter_serial) continue;
      std::unique_ptr<Waiter> w = std::move(*wi);
      ws.erase(wi);
      --waiting;
      // The last one gone: the call is abandoned, a later `done` is late.
      if (ws.empty()) inflight.erase(it);
      bump(n.servfail_timeouts);
      spdlog::debug("dns: {} A from {}: no answer in {} ms, SERVFAIL", name, text(w->client),
                    cfg.tunnel_wait_ms);
      send(w->client, build_empty(w->query, Rcode::servfail));
      return;
    }
  }

  // --- the upstream side ------------------------------------------------

  void forward(const udp::endpoint& from, std::span<const std::uint8_t> dgram, Query q) {
    if (pending.size() >= cfg.max_pending) {
      bump(n.full);
      spdlog::debug("dns: {} type {} from {}: {} forwards pending, SERVFAIL", q.name, q.qtype,
                    text(from), pending.size());
      send(from, build_empty(q, Rcode::servfail));
      return;
    }
    std::uint16_t id = 0;
    bool found = false;
    for (int i = 0; i < kIdTries && !found; ++i) {
      id = static_cast<std::uint16_t>(rng());
      found = !pending.contains(id);
    }
    if (!found) {
      bump(n.full);
      send(from, build_empty(q, Rcode::servfail));
      return;
    }
    std::vector<std::uint8_t> out(dgram.begin(), dgram.end());
    write_id(out, id);
    error_code ec;
    upstream_sock.send_to(asio::buffer(out), cfg.upstream, 0, ec);
    if (ec) {
      bump(n.upstream_errors);
      spdlog::debug("dns: send to upstream {}: {}", text(cfg.upstream), ec.message());
      send(from, build_empty(q, Rcode::servfail));
      return;
    }
    bump(n.passthrough);
    if (debug_on()) {
      spdlog::debug("dns: {} type {} class {} from {}: to upstream as id {}", q.name, q.qtype,
                    q.qclass, text(from), id);
    }
    auto pd = std::make_unique<Pending>(io);
    pd->serial = ++next_serial;
    pd->client = from;
    pd->query = std::move(q);
    pd->timer.expires_after(std::chrono::milliseconds(cfg.upstream_timeout_ms));
    pd->timer.async_wait([wk = weak_from_this(), id, s = pd->serial](const error_code& e) {
      if (e) return;
      auto self = wk.lock();
      if (self && !self->stopped) self->on_forward_timeout(id, s);
    });
    pending.emplace(id, std::move(pd));
  }

  void on_upstream(std::span<std::uint8_t> dgram) {
    if (upstream_from != cfg.upstream) {
      bump(n.upstream_dropped);
      spdlog::debug("dns: {} bytes from {} on the upstream socket: not the upstream, dropped",
                    dgram.size(), text(upstream_from));
      return;
    }
    const auto head = peek_reply(dgram);
    if (!head || !head->qr) {
      bump(n.upstream_dropped);
      spdlog::debug("dns: malformed reply from upstream ({} bytes), dropped", dgram.size());
      return;
    }
    auto it = pending.find(head->id);
    if (it == pending.end()) {
      bump(n.upstream_dropped);
      spdlog::debug("dns: upstream reply with unknown id {}, dropped", head->id);
      return;
    }
    const Query& q = it->second->query;
    // A reply without a question (FORMERR and the like) is taken; one with a
    // question must carry ours, or it is somebody's guess at our id.
    if (head->qdcount != 0 &&
        (head->qdcount != 1 || head->qtype != q.qtype || head->qclass != q.qclass ||
         !same_name(head->qname_wire, q.qname_wire))) {
      bump(n.upstream_dropped);
      spdlog::debug("dns: upstream reply id {} for another question, dropped", head->id);
      return;
    }
    const std::unique_ptr<Pending> pd = std::move(it->second);
    pending.erase(it);
    write_id(dgram, pd->query.id);
    if (debug_on()) {
      spdlog::debug("dns: {} type {}: upstream answered ({} bytes) to {}", pd->query.name,
                    pd->query.qtype, dgram.size(), text(pd->client));
    }
    send(pd->client, dgram);
  }

  void on_forward_timeout(std::uint16_t id, std::uint64_t serial) {
    auto it = pending.find(id);
    if (it == pending.end() || it->second->serial != serial) return;
    const std::unique_ptr<Pending> pd = std::move(it->second);
    pending.erase(it);
    bump(n.upstream_timeouts);
    spdlog::debug("dns: {} type {}: no upstream reply in {} ms{}", pd->query.name, pd->query.qtype,
                  cfg.upstream_timeout_ms, cfg.servfail_on_upstream_timeout ? ", SERVFAIL" : "");
    if (cfg.servfail_on_upstream_timeout) {
      send(pd->client, build_empty(pd->query, Rcode::servfail));
    }
  }
};

DnsFront::DnsFront(asio::io_context& io, FrontConfig config, ResolveFn resolve)
    : state_(std::make_shared<State>(io, std::move(config), std::move(resolve))) {
  state_->open();
  spdlog::debug("dns: listening on {}, upstream {}", text(state_->cfg.listen),
                text(state_->cfg.upstream));
}

DnsFront::~DnsFront() {
  if (state_) state_->stop();
}

udp::endpoint DnsFront::local_endpoint() const {
  error_code ec;
  return state_->listen_sock.local_endpoint(ec);
}

FrontCounters DnsFront::counters() const {
  const auto& c = state_->n;
  FrontCounters out;
  out.queries = get(c.queries);
  out.intercepted = get(c.intercepted);
  out.callbacks = get(c.callbacks);
  out.passthrough = get(c.passthrough);
  out.servfail_timeouts = get(c.servfail_timeouts);
  out.late_answers = get(c.late_answers);
  out.formerr = get(c.formerr);
  out.notimp = get(c.notimp);
  out.dropped = get(c.dropped);
  out.full = get(c.full);
  out.upstream_timeouts = get(c.upstream_timeouts);
  out.upstream_dropped = get(c.upstream_dropped);
  out.upstream_errors = get(c.upstream_errors);
  out.send_errors = get(c.send_errors);
  return out;
}

std::size_t DnsFront::pending_forwards() const {
  return state_->pending.size();
}
std::size_t DnsFront::pending_names() const {
  return state_->inflight.size();
}

}  // namespace ntm::node::dns
