// SPDX-License-Identifier: MIT
#include "status/status_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <istream>
#include <memory>
#include <stdexcept>

namespace ntm::node {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

StatusServer::StatusServer(asio::io_context& io, const std::string& path, Render render)
    : acceptor_(io), path_(path), render_(std::move(render)) {
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  ::unlink(path.c_str());
  acceptor_.open(local());
  acceptor_.bind(local::endpoint(path));
  ::chmod(path.c_str(), 0660);
  acceptor_.listen();
  accept();
}

StatusServer::~StatusServer() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  ::unlink(path_.c_str());
}

void StatusServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, local::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      auto sock = std::make_shared<local::socket>(std::move(s));
      auto buf = std::make_shared<asio::streambuf>(64);
      asio::async_read_until(*sock, *buf, '\n',
                             [this, sock, buf](const boost::system::error_code& rec, std::size_t) {
                               if (rec) return;
                               std::istream in(buf.get());
                               std::string what;
                               std::getline(in, what);
                               auto out = std::make_shared<std::string>(render_(what == "json"));
                               asio::async_write(*sock, asio::buffer(*out),
                                                 [sock, out](const boost::system::error_code&,
                                                             std::size_t) {});
                             });
    }
    accept();
  });
}

std::string query_status(const std::string& path, bool json) {
  asio::io_context io;
  local::socket s(io);
  boost::system::error_code ec;
  s.connect(local::endpoint(path), ec);
  if (ec) throw std::runtime_error("cannot connect to " + path + ": " + ec.message() +
                                   " (is ntmd running?)");
  const std::string req = json ? "json\n" : "text\n";
  asio::write(s, asio::buffer(req));
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

}  // namespace ntm::node
