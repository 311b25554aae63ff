// SPDX-License-Identifier: MIT
#include "relay_in_process.hpp"

#include <poll.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "dc_link.hpp"
#include "forwarder.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/common/udp_socket.hpp"
#include "relay_path.hpp"
#include "sink.hpp"

namespace ntm::test {

namespace {

// Sends at once: nothing is batched in the test.
class DirectSink final : public relay::Sink {
 public:
  explicit DirectSink(common::UdpSocket& s) : sock_(s) {}
  std::span<std::uint8_t> buffer() override { return buf_; }
  void send(std::span<const std::uint8_t> d, const wire::Endpoint& to) override { sock_.send(d, to); }
  void write_tun(std::span<const std::uint8_t>) override {}

 private:
  common::UdpSocket& sock_;
  std::array<std::uint8_t, relay::kReplyBufferSize> buf_{};
};

relay::Now now() { return {common::mono_ms(), common::wall_ms()}; }

}  // namespace

InProcessRelay::InProcessRelay(const std::string& text, const char* bind) {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket probe(io, {boost::asio::ip::make_address(bind), 0});
  const auto port = probe.local_endpoint().port();
  probe.close();
  cfg_ = relay::parse_config(text + "\n[rs]\nlisten = " + bind + ":" + std::to_string(port) +
                             "\ntranslate = off\n");
}

InProcessRelay::~InProcessRelay() { stop(); }

// After stop(), start() is a restart: a new DC link (instance, reason
// `start`) and an empty path table, as a new ntm-rs process.
void InProcessRelay::start() {
  stop_ = false;
  registered_ = false;
  thread_ = std::thread([this] { loop(); });
}

void InProcessRelay::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

relay::Drops InProcessRelay::drops() const {
  std::lock_guard lock(mu_);
  return drops_;
}

void InProcessRelay::loop() {
  common::UdpSocket sock(cfg_.listen);
  relay::PathTable paths(cfg_.max_paths);
  relay::Drops drops;
  relay::DcLink dc(cfg_, paths, drops);
  relay::Forwarder fwd(cfg_, paths, dc, drops);
  DirectSink sink(sock);
  std::array<std::uint8_t, 2048> buf;
  while (!stop_) {
    dc.on_timer(sink, now());
    registered_ = dc.registered();
    pollfd p{sock.fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    for (;;) {
      wire::Endpoint from;
      const long n = sock.receive(buf, from);
      if (n < 0) break;
      if (static_cast<std::size_t>(n) > buf.size()) continue;
      fwd.on_datagram({buf.data(), static_cast<std::size_t>(n)}, from, sink, now());
    }
    paths_ = paths.size();
    std::lock_guard lock(mu_);
    drops_ = drops;
  }
}

}  // namespace ntm::test
