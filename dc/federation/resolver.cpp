// SPDX-License-Identifier: MIT
#include "federation/resolver.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "ntm/common/asio_endpoint.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/secret_key.hpp"

namespace ntm::dc::federation {

using common::to_asio;

namespace {

}  // namespace

wire::Endpoint system_resolver(const std::string& resolv_conf) {
  std::ifstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, addr;
    if (!(words >> key >> addr) || key != "nameserver") continue;
    wire::Endpoint e;
    // A zone index (fe80::1%eth0) is not ours to handle: skip such entries.
    if (wire::IpAddr::parse(addr, e.addr)) {
      e.port = 53;
      return e;
    }
  }
  wire::Endpoint e;
  (void)wire::IpAddr::parse("127.0.0.1", e.addr);
  e.port = 53;
  return e;
}

struct TxtResolver::Query {
  explicit Query(asio::io_context& io) : socket(io), timer(io) {}
  std::string name;
  std::uint16_t id = 0;
  std::vector<std::uint8_t> wire;
  asio::ip::udp::socket socket;
  asio::steady_timer timer;
  asio::ip::udp::endpoint from;
  std::array<std::uint8_t, 4096> buf{};
  unsigned tries = 0;
  bool done = false;
  std::vector<Callback> waiting;
};

TxtResolver::TxtResolver(asio::io_context& io, Options o) : io_(io), opt_(std::move(o)) {}

TxtResolver::~TxtResolver() {
  alive_.reset();
  stop();
}

void TxtResolver::stop() {
  stopped_ = true;
  alive_.reset();
  auto running = std::move(running_);
  running_.clear();
  for (auto& [name, q] : running) {
    q->done = true;
    boost::system::error_code ec;
    q->socket.close(ec);
    q->timer.cancel();
  }
}

void TxtResolver::lookup(const std::string& name, Callback cb) {
  if (stopped_) return;
  if (auto it = cache_.find(name); it != cache_.end()) {
    if (common::mono_ms() < it->second.expires_mono_ms) {
      stats_.cache_hits++;
      std::weak_ptr<bool> alive = alive_;
      asio::post(io_, [cb = std::move(cb), a = it->second.answer, alive] {
        if (!alive.expired()) cb(a);
      });
      return;
    }
    cache_.erase(it);
  }
  if (auto it = running_.find(name); it != running_.end()) {
    it->second->waiting.push_back(std::move(cb));
    return;
  }
  auto q = std::make_shared<Query>(io_);
  q->name = name;
  wire::random_bytes(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&q->id), 2));
  q->wire = build_txt_query(name, q->id);
  q->waiting.push_back(std::move(cb));
  if (q->wire.empty()) {
    TxtAnswer bad;
    bad.status = TxtStatus::failed;
    return finish(q, bad);
  }
  const auto server = to_asio(opt_.server);
  boost::system::error_code ec;
  q->socket.open(server.protocol(), ec);
  // Port 0: the kernel picks an ephemeral port at random (Linux randomizes
  // the choice), which with the random id makes a spoofed answer unlikely.
  if (!ec) q->socket.bind(asio::ip::udp::endpoint(server.protocol(), 0), ec);
  if (ec) {
    spdlog::warn("federation: cannot open a DNS socket: {}", ec.message());
    TxtAnswer bad;
    bad.status = TxtStatus::failed;
    return finish(q, bad);
  }
  running_[name] = q;
  stats_.queries++;
  receive(q);
  send_try(q);
}

void TxtResolver::send_try(const std::shared_ptr<Query>& q) {
  if (q->done) return;
  if (q->tries++ > 0) stats_.retries++;
  boost::system::error_code ec;
  q->socket.send_to(asio::buffer(q->wire), to_asio(opt_.server), 0, ec);
  if (ec) spdlog::debug("federation: DNS query to {} failed: {}", opt_.server.to_string(), ec.message());
  q->timer.expires_after(std::chrono::milliseconds(opt_.timeout_ms));
  q->timer.async_wait([this, q](const boost::system::error_code& e) {
    if (e || q->done) return;
    if (q->tries < opt_.tries) return send_try(q);
    stats_.timeouts++;
    TxtAnswer a;
    a.status = TxtStatus::failed;
    finish(q, a);
  });
}

void TxtResolver::receive(const std::shared_ptr<Query>& q) {
  q->socket.async_receive_from(
      asio::buffer(q->buf), q->from, [this, q](const boost::system::error_code& ec, std::size_t n) {
        if (q->done || ec == asio::error::operation_aborted) return;
        if (!ec) {
          const auto server = to_asio(opt_.server);
          TxtAnswer a;
          if (q->from == server && n < q->buf.size())
            a = parse_txt_response({q->buf.data(), n}, q->name, q->id);
          if (a.status == TxtStatus::malformed || a.status == TxtStatus::mismatch) {
            // Someone else's datagram, or garbage: keep waiting for ours.
            stats_.ignored++;
          } else {
            if (a.status == TxtStatus::failed) stats_.failed++;
            return finish(q, a);
          }
        }
        receive(q);
      });
}

void TxtResolver::finish(const std::shared_ptr<Query>& q, const TxtAnswer& a) {
  q->done = true;
  boost::system::error_code ec;
  q->socket.close(ec);
  q->timer.cancel();
  if (auto it = running_.find(q->name); it != running_.end() && it->second == q)
    running_.erase(it);
  remember(q->name, a);
  auto waiting = std::move(q->waiting);
  // Posted, so that a callback never runs inside lookup().
  std::weak_ptr<bool> alive = alive_;
  asio::post(io_, [waiting = std::move(waiting), a, alive] {
    if (alive.expired()) return;
    for (const auto& cb : waiting) cb(a);
  });
}

void TxtResolver::remember(const std::string& name, const TxtAnswer& a) {
  if (opt_.cache_size == 0 || a.ttl_s == 0) return;
  if (a.status != TxtStatus::ok && a.status != TxtStatus::nxdomain && a.status != TxtStatus::nodata)
    return;
  const std::uint64_t now = common::mono_ms();
  if (cache_.size() >= opt_.cache_size) {
    // Full: drop what expired; if nothing did, one arbitrary entry.
    std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires_mono_ms <= now; });
    if (cache_.size() >= opt_.cache_size) cache_.erase(cache_.begin());
  }
  cache_[name] = Cached{a, now + std::uint64_t{a.ttl_s} * 1000};
}

}  // namespace ntm::dc::federation
