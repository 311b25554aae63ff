// SPDX-License-Identifier: MIT
// DnsFront on 127.0.0.1: a real UDP client (and dig) in front, a fake
// upstream resolver behind it that the test drives by hand (it reads what
// the front forwards and writes the replies itself), and a stub daemon
// whose `done` the test calls from its own thread.  The front runs on an
// io_context in a thread of its own, as on ntmd's control thread.
#include <doctest/doctest.h>
#include <poll.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dns/dns_test_util.hpp"
#include "ntm/node/dns/front.hpp"
#include "ntm/node/dns/message.hpp"

namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using namespace std::chrono_literals;
using namespace ntm::node::dns;
using namespace ntm::test::dns;

const udp::endpoint kAnyLoopback(asio::ip::address_v4::loopback(), 0);

// A blocking UDP socket on 127.0.0.1 with a receive timeout.
class Peer {
 public:
  Peer() : sock_(io_, kAnyLoopback) {}
  udp::endpoint endpoint() const { return sock_.local_endpoint(); }
  void send(const Bytes& b, const udp::endpoint& to) { sock_.send_to(asio::buffer(b), to); }
  std::optional<std::pair<Bytes, udp::endpoint>> recv(std::chrono::milliseconds timeout) {
    pollfd p{sock_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    Bytes b(65536);
    udp::endpoint from;
    const auto n = sock_.receive_from(asio::buffer(b), from);
    b.resize(n);
    return std::make_pair(std::move(b), from);
  }
  std::optional<Reply> reply(std::chrono::milliseconds timeout = 3000ms) {
    auto got = recv(timeout);
    if (!got) return std::nullopt;
    auto r = read_reply(got->first);
    REQUIRE(r.has_value());
    return r;
  }

 private:
  asio::io_context io_;
  udp::socket sock_;
};

// The daemon's side of the callback: records each call; `immediate`
// answers at once from inside the callback (a path that is already up).
struct StubDaemon {
  using Done = std::function<void(Answer)>;
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<std::string, Done>> calls;
  std::function<std::optional<Answer>(const std::string&)> immediate;
  bool throw_in_callback = false;

  ResolveFn fn() {
    return [this](const std::string& name, Done done) {
      if (throw_in_callback) throw std::runtime_error("stub daemon failure");
      if (immediate) {
        if (auto a = immediate(name)) {
          done(*a);
          std::lock_guard l(m);
          calls.emplace_back(name, nullptr);
          cv.notify_all();
          return;
        }
      }
      std::lock_guard l(m);
      calls.emplace_back(name, std::move(done));
      cv.notify_all();
    };
  }
  std::pair<std::string, Done> wait_call(std::size_t i, std::chrono::milliseconds t = 3000ms) {
    std::unique_lock l(m);
    REQUIRE(cv.wait_for(l, t, [&] { return calls.size() > i; }));
    return calls[i];
  }
  std::size_t count() {
    std::lock_guard l(m);
    return calls.size();
  }
};

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds t = 3000ms) {
  const auto end = std::chrono::steady_clock::now() + t;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

struct Harness {
  explicit Harness(const std::function<void(FrontConfig&)>& tweak = {}) {
    FrontConfig c;
    c.listen = kAnyLoopback;
    c.upstream = upstream.endpoint();
    c.tunnel_wait_ms = 3000;
    c.upstream_timeout_ms = 3000;
    if (tweak) tweak(c);
    front = std::make_unique<DnsFront>(io, c, daemon.fn());
    ep = front->local_endpoint();
    thread = std::thread([this] { io.run(); });
  }
  ~Harness() { shut(); }
  // Destroys the front on its own thread, then lets the io_context run dry.
  void shut() {
    if (!thread.joinable()) return;
    asio::post(io, [this] {
      front.reset();
      work.reset();
    });
    thread.join();
  }
  FrontCounters counters() const { return front->counters(); }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  Peer upstream;  // the fake upstream resolver
  StubDaemon daemon;
  std::unique_ptr<DnsFront> front;
  udp::endpoint ep;
  std::thread thread;
};

// The fake upstream's answer to `query`: the same bytes as a response with
// one record of the asked type appended (rdata: 4 bytes, enough for A; an
// opaque blob for other types is fine for a relay that never reads it).
Bytes upstream_answer(const Bytes& query) {
  Bytes b = query;
  b[2] |= 0x80;
  b[3] |= 0x80;
  b[6] = 0;
  b[7] = 1;
  b[10] = 0;
  b[11] = 0;  // drop the query's OPT: cut after the question
  std::size_t pos = 12;
  REQUIRE(skip_name(b, pos));
  b.resize(pos + 4);
  const unsigned qtype = get16(b, pos);
  b.insert(b.end(), {0xc0, 0x0c});
  put16(b, qtype);
  put16(b, 1);
  put32(b, 300);
  if (qtype == 15) {  // MX 10 mail.<owner>
    put16(b, 2 + 5 + 2);
    put16(b, 10);
    b.insert(b.end(), {4, 'm', 'a', 'i', 'l', 0xc0, 0x0c});
  } else {
    put16(b, 4);
    b.insert(b.end(), {192, 0, 2, 1});
  }
  return b;
}

}  // namespace

TEST_CASE("dns front: an intercepted A is answered with the daemon's VIP") {
  Harness h;
  Peer client;
  client.send(make_query("CN.ntm.test", kTypeA, 0x4242), h.ep);
  auto [name, done] = h.daemon.wait_call(0);
  CHECK(name == "cn.ntm.test");
  CHECK_FALSE(client.recv(50ms).has_value());  // nothing until the path is up
  done(Answer::address(0x64400009));           // from this thread: posted to the front's
  const auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 0x4242);
  CHECK(r->rcode == 0);
  CHECK(r->qname == wire_name("CN.ntm.test"));
  REQUIRE(r->answers.size() == 1);
  CHECK(a_address(r->answers[0]) == 0x64400009);
  CHECK(r->answers[0].ttl == 60);
  const auto c = h.counters();
  CHECK(c.queries == 1);
  CHECK(c.intercepted == 1);
  CHECK(c.callbacks == 1);
  CHECK(c.passthrough == 0);
  // A second `done` is late and harmless.
  done(Answer::nxdomain());
  CHECK(wait_until([&] { return h.counters().late_answers == 1; }));
  CHECK_FALSE(client.recv(100ms).has_value());
}

TEST_CASE("dns front: a path that is up is answered from inside the callback") {
  Harness h;
  h.daemon.immediate = [](const std::string& n) -> std::optional<Answer> {
    return n == "up.ntm.test" ? std::optional(Answer::address(0x6440000b, 30)) : std::nullopt;
  };
  Peer client;
  QuerySpec s;
  s.name = "up.ntm.test";
  s.edns = true;
  s.id = 5;
  client.send(make_query(s), h.ep);
  const auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 5);
  REQUIRE(r->answers.size() == 1);
  CHECK(a_address(r->answers[0]) == 0x6440000b);
  CHECK(r->answers[0].ttl == 30);
  CHECK(r->opt.has_value());
}

TEST_CASE("dns front: the wait bound gives SERVFAIL, a late answer is ignored") {
  Harness h([](FrontConfig& c) { c.tunnel_wait_ms = 200; });
  Peer client;
  const auto t0 = std::chrono::steady_clock::now();
  client.send(make_query("slow.ntm.test", kTypeA, 7), h.ep);
  auto [name, done] = h.daemon.wait_call(0);
  const auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(std::chrono::steady_clock::now() - t0 >= 190ms);
  CHECK(r->id == 7);
  CHECK(r->rcode == 2);
  CHECK(r->ancount == 0);
  CHECK(h.counters().servfail_timeouts == 1);
  done(Answer::address(0x64400009));
  CHECK(wait_until([&] { return h.counters().late_answers == 1; }));
  CHECK_FALSE(client.recv(100ms).has_value());
  // The next query for the name asks the daemon again.
  client.send(make_query("slow.ntm.test", kTypeA, 8), h.ep);
  auto [name2, done2] = h.daemon.wait_call(1);
  CHECK(name2 == "slow.ntm.test");
  done2(Answer::address(0x6440000c));
  const auto r2 = client.reply();
  REQUIRE(r2.has_value());
  CHECK(r2->id == 8);
  REQUIRE(r2->answers.size() == 1);
  CHECK(a_address(r2->answers[0]) == 0x6440000c);
}

TEST_CASE("dns front: NXDOMAIN and SERVFAIL from the daemon") {
  Harness h;
  Peer client;
  client.send(make_query("nope.ntm.test", kTypeA, 1), h.ep);
  h.daemon.wait_call(0).second(Answer::nxdomain());
  auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->rcode == 3);
  CHECK(r->ancount == 0);
  client.send(make_query("broken.ntm.test", kTypeA, 2), h.ep);
  h.daemon.wait_call(1).second(Answer::servfail());
  r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->rcode == 2);
  CHECK(r->id == 2);
}

TEST_CASE("dns front: a callback that throws gives SERVFAIL") {
  Harness h;
  h.daemon.throw_in_callback = true;
  Peer client;
  client.send(make_query("cn.ntm.test", kTypeA, 3), h.ep);
  const auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->rcode == 2);
}

TEST_CASE("dns front: AAAA for an intercepted name is NOERROR with no records") {
  Harness h;
  Peer client;
  client.send(make_query("cn.ntm.test", kTypeAaaa, 9), h.ep);
  const auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 9);
  CHECK(r->rcode == 0);
  CHECK(r->ancount == 0);
  CHECK(r->qtype == kTypeAaaa);
  CHECK(h.daemon.count() == 0);
  CHECK(h.counters().intercepted == 1);
  CHECK_FALSE(h.upstream.recv(50ms).has_value());
}

TEST_CASE("dns front: identical concurrent queries share one callback") {
  Harness h;
  Peer a, b;
  a.send(make_query("cn.ntm.test", kTypeA, 100), h.ep);
  b.send(make_query("CN.NTM.TEST", kTypeA, 200), h.ep);
  a.send(make_query("cn.ntm.test", kTypeA, 100), h.ep);  // a retransmission
  auto [name, done] = h.daemon.wait_call(0);
  REQUIRE(wait_until([&] { return h.counters().intercepted == 3; }));
  CHECK(h.daemon.count() == 1);
  CHECK(h.counters().callbacks == 1);
  done(Answer::address(0x64400009));
  const auto ra = a.reply();
  const auto rb = b.reply();
  REQUIRE(ra.has_value());
  REQUIRE(rb.has_value());
  CHECK(ra->id == 100);
  CHECK(rb->id == 200);
  CHECK(rb->qname == wire_name("CN.NTM.TEST"));
  CHECK(a_address(ra->answers.at(0)) == 0x64400009);
  CHECK(a_address(rb->answers.at(0)) == 0x64400009);
  CHECK_FALSE(a.recv(100ms).has_value());  // one answer for the retransmitted query
}

TEST_CASE("dns front: passthrough to the upstream, id rewritten and restored") {
  Harness h([](FrontConfig& c) { c.policy = Policy({"example.org"}); });
  Peer client;

  struct Case {
    std::string name;
    std::uint16_t qtype;
  };
  const Case cases[] = {
      {"cn.ntm.test", 15},     // MX for an intercepted name
      {"www.example.org", 1},  // A under a passthrough domain
      {"host", 1},             // single label
      {"1.0.0.127.in-addr.arpa", 12},
  };
  std::uint16_t id = 0x5000;
  for (const auto& c : cases) {
    CAPTURE(c.name);
    QuerySpec s;
    s.name = c.name;
    s.qtype = c.qtype;
    s.id = ++id;
    s.edns = true;
    const Bytes q = make_query(s);
    client.send(q, h.ep);
    auto fwd = h.upstream.recv(3000ms);
    REQUIRE(fwd.has_value());
    // Untouched but for the id.
    REQUIRE(fwd->first.size() == q.size());
    CHECK(std::equal(q.begin() + 2, q.end(), fwd->first.begin() + 2));
    const Bytes answer = upstream_answer(fwd->first);
    h.upstream.send(answer, fwd->second);
    auto got = client.recv(3000ms);
    REQUIRE(got.has_value());
    CHECK(read_id(got->first) == id);
    CHECK(std::equal(answer.begin() + 2, answer.end(), got->first.begin() + 2, got->first.end()));
  }
  const auto c = h.counters();
  CHECK(c.passthrough == 4);
  CHECK(c.intercepted == 0);
  CHECK(h.daemon.count() == 0);
}

TEST_CASE("dns front: upstream replies that are not ours are dropped and counted") {
  Harness h;
  Peer client, stranger;
  const Bytes q = make_query("cn.ntm.test", 16 /* TXT */, 0x0a0a);
  client.send(q, h.ep);
  auto fwd = h.upstream.recv(3000ms);
  REQUIRE(fwd.has_value());
  const Bytes answer = upstream_answer(fwd->first);

  stranger.send(answer, fwd->second);  // right id, wrong source
  Bytes wrong_id = answer;
  write_id(wrong_id, static_cast<std::uint16_t>(read_id(answer) + 1));
  h.upstream.send(wrong_id, fwd->second);
  Bytes other_q = upstream_answer(make_query("cn.ntm.test", 1));  // right id, other question
  write_id(other_q, read_id(answer));
  h.upstream.send(other_q, fwd->second);
  Bytes not_reply = fwd->first;  // QR=0
  h.upstream.send(not_reply, fwd->second);
  h.upstream.send(Bytes{1, 2, 3}, fwd->second);
  CHECK(wait_until([&] { return h.counters().upstream_dropped == 5; }));
  CHECK_FALSE(client.recv(50ms).has_value());

  h.upstream.send(answer, fwd->second);  // the real one still gets through
  auto got = client.recv(3000ms);
  REQUIRE(got.has_value());
  CHECK(read_id(got->first) == 0x0a0a);
  // A duplicate after that finds no pending id.
  h.upstream.send(answer, fwd->second);
  CHECK(wait_until([&] { return h.counters().upstream_dropped == 6; }));
}

TEST_CASE("dns front: a silent upstream gives SERVFAIL after upstream_timeout_ms") {
  Harness h([](FrontConfig& c) { c.upstream_timeout_ms = 250; });
  Peer client;
  client.send(make_query("www.example.com", 15, 0x77), h.ep);
  REQUIRE(h.upstream.recv(3000ms).has_value());
  const auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 0x77);
  CHECK(r->rcode == 2);
  CHECK(h.counters().upstream_timeouts == 1);
}

TEST_CASE("dns front: a silent upstream, servfail_on_upstream_timeout off: nothing") {
  Harness h([](FrontConfig& c) {
    c.upstream_timeout_ms = 150;
    c.servfail_on_upstream_timeout = false;
  });
  Peer client;
  client.send(make_query("www.example.com", 15, 0x78), h.ep);
  REQUIRE(h.upstream.recv(3000ms).has_value());
  CHECK(wait_until([&] { return h.counters().upstream_timeouts == 1; }));
  CHECK_FALSE(client.recv(100ms).has_value());
}

TEST_CASE("dns front: full tables answer SERVFAIL at once") {
  Harness h([](FrontConfig& c) {
    c.max_pending = 1;
    c.max_waiting = 1;
  });
  Peer client;
  client.send(make_query("a.example.com", 15, 1), h.ep);
  REQUIRE(h.upstream.recv(3000ms).has_value());
  client.send(make_query("b.example.com", 15, 2), h.ep);
  auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 2);
  CHECK(r->rcode == 2);
  client.send(make_query("a.ntm.test", kTypeA, 3), h.ep);
  h.daemon.wait_call(0);
  client.send(make_query("b.ntm.test", kTypeA, 4), h.ep);
  r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 4);
  CHECK(r->rcode == 2);
  CHECK(h.counters().full == 2);
}

TEST_CASE("dns front: malformed queries get FORMERR/NOTIMP, garbage is dropped") {
  Harness h;
  Peer client;
  Bytes two = make_query("cn.ntm.test", kTypeA, 0x99);
  two[5] = 2;
  client.send(two, h.ep);
  auto r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->id == 0x99);
  CHECK(r->rcode == 1);
  QuerySpec s;
  s.opcode = 2;
  client.send(make_query(s), h.ep);
  r = client.reply();
  REQUIRE(r.has_value());
  CHECK(r->rcode == 4);

  // Responses and short datagrams: no answer at all.
  Bytes resp = make_query("cn.ntm.test", kTypeA);
  resp[2] |= 0x80;
  client.send(resp, h.ep);
  client.send(Bytes{}, h.ep);
  client.send(Bytes(11, 0xff), h.ep);
  CHECK(wait_until([&] { return h.counters().dropped == 3; }));
  CHECK_FALSE(client.recv(50ms).has_value());

  // Random bytes: each datagram lands in exactly one counter, no crash.
  // Sent in batches the front has read before the next, so that the
  // kernel's receive buffer never overflows (its drops are not ours).
  std::mt19937 rng(7);
  const int n = 300;
  const auto seen = [&] {
    const auto c = h.counters();
    return c.queries + c.formerr + c.notimp + c.dropped;
  };
  for (int i = 0; i < n; ++i) {
    Bytes b(rng() % 600);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (!b.empty() && i % 2 == 0) b[2] |= 0x80;
    client.send(b, h.ep);
    if (i % 25 == 24) {
      REQUIRE(wait_until([&] { return seen() == 2u + 3u + static_cast<unsigned>(i) + 1u; }));
    }
  }
  CHECK(wait_until([&] { return seen() == 2u + 3u + n; }));
  // Still answering.
  client.send(make_query("cn.ntm.test", kTypeAaaa, 0x31), h.ep);
  bool answered = false;
  for (int i = 0; i < 400 && !answered; ++i) {  // skip FORMERR/NOTIMP replies to the noise
    auto got = client.recv(3000ms);
    REQUIRE(got.has_value());
    answered = read_id(got->first) == 0x31 && got->first.size() > 12 && got->first[3] == 0x80;
  }
  CHECK(answered);
}

TEST_CASE("dns front: destroyed with a callback outstanding, a late done is safe") {
  StubDaemon::Done done;
  {
    Harness h;
    Peer client;
    client.send(make_query("cn.ntm.test", kTypeA), h.ep);
    done = h.daemon.wait_call(0).second;
    h.shut();  // the front goes first, then the io_context
  }
  done(Answer::address(1));  // nothing left to answer: ignored
  CHECK(true);
}

TEST_CASE("dns front: dig sees the VIP and an empty AAAA") {
  if (std::system("command -v dig >/dev/null 2>&1") != 0) {
    MESSAGE("dig not installed: skipped");
    return;
  }
  Harness h;
  h.daemon.immediate = [](const std::string&) {
    return std::optional(Answer::address(0x64400009));
  };
  auto run = [&](const std::string& args) {
    const std::string cmd =
        "dig @127.0.0.1 -p " + std::to_string(h.ep.port()) + " +tries=1 +time=3 " + args + " 2>&1";
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      std::array<char, 512> buf{};
      while (std::fgets(buf.data(), buf.size(), f)) out += buf.data();
      ::pclose(f);
    }
    return out;
  };
  const std::string a = run("cn.ntm.test A");
  CAPTURE(a);
  CHECK(a.find("status: NOERROR") != std::string::npos);
  CHECK(a.find("100.64.0.9") != std::string::npos);
  CHECK(a.find("ANSWER: 1") != std::string::npos);
  CHECK(a.find("EDNS: version: 0") != std::string::npos);  // dig asks with OPT (and a cookie)
  const std::string aaaa = run("cn.ntm.test AAAA +noedns");
  CAPTURE(aaaa);
  CHECK(aaaa.find("status: NOERROR") != std::string::npos);
  CHECK(aaaa.find("ANSWER: 0") != std::string::npos);
}
