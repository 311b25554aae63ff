// SPDX-License-Identifier: MIT
#include "dc_in_process.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <random>
#include <sstream>

#include "control/server.hpp"
#include "database.hpp"
#include "enroll/enroll.hpp"
#include "state/view.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace ntm::test {

namespace {

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::ostringstream o;
  for (std::size_t i = 0; i < bytes; ++i) {
    const unsigned v = rd() & 0xff;
    o << "0123456789abcdef"[v >> 4] << "0123456789abcdef"[v & 15];
  }
  return o.str();
}

// A free UDP port on 127.0.0.1 (bound and released: a small race).
std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket s(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return s.local_endpoint().port();
}

}  // namespace

InProcessDc::InProcessDc(const std::string& url, const std::string& zone) {
  state_ = std::filesystem::temp_directory_path() / ("ntm-e2e-" + random_hex(6));
  std::filesystem::create_directories(state_);
  const auto port = free_port();
  std::ostringstream ini;
  ini << "[dc]\nid = " << random_hex(16) << "\nzones = " << zone
      << "\nlisten = 127.0.0.1:" << port << "\nstate_dir = " << state_.string()
      << "\n[database]\nurl = " << url
      << "\n[timers]\nkeepalive_s = 15\nlifetime_s = 60\ndirection_timeout_ms = 3000\n"
         "retransmit_initial_ms = 100\n";
  cfg_ = dc::config::parse(ini.str());
  endpoint_ = cfg_.advertise;
  dc::migrate_database(url);
}

InProcessDc::~InProcessDc() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(state_, ec);
}

std::string InProcessDc::enroll_node(const std::string& fqdn) {
  dc::store::Store store(cfg_.database_url);
  store.ensure_zones(cfg_.zones);
  std::string text;
  dc::enroll::add_node(store, cfg_, fqdn, "-", &text);
  return text;
}

std::string InProcessDc::enroll_relay(const std::string& name) {
  dc::store::Store store(cfg_.database_url);
  std::string text;
  dc::enroll::add_relay(store, cfg_, name, "-", &text);
  return text;
}

std::string InProcessDc::rekey_node(const std::string& fqdn, std::uint32_t grace_s) {
  if (thread_.joinable()) throw std::logic_error("rekey_node: stop the DC first");
  dc::store::Store store(cfg_.database_url);
  std::string text;
  dc::enroll::rekey(store, cfg_, fqdn, false, "-", &text, grace_s);
  return text;
}

void InProcessDc::start() {
  io_.restart();  // after a stop()
  view_ = std::make_unique<dc::state::View>();
  {
    dc::store::Store store(cfg_.database_url);
    store.ensure_zones(cfg_.zones);
    for (const auto& row : store.load_parties()) view_->upsert(row);
  }
  writer_ = std::make_unique<dc::store::Writer>(cfg_.database_url, 64);
  server_ = std::make_unique<dc::control::Server>(io_, cfg_, *view_, *writer_);
  server_->start();
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

void InProcessDc::stop() {
  if (!thread_.joinable()) return;
  std::promise<void> done;
  boost::asio::post(io_, [&] {
    server_->stop();
    io_.stop();
    done.set_value();
  });
  done.get_future().wait();
  thread_.join();
  writer_->stop();
  server_.reset();
  writer_.reset();
}

}  // namespace ntm::test
