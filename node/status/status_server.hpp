// SPDX-License-Identifier: MIT
// The local status socket: a client connects, writes "json" or "text" and a
// newline, and reads the report until the daemon closes the connection.
// The socket is mode 0660 (root and the socket's group).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <string>

namespace ntm::node {

class StatusServer {
 public:
  using Render = std::function<std::string(bool json)>;
  // Creates the directory if needed and replaces a stale socket file.
  StatusServer(boost::asio::io_context& io, const std::string& path, Render render);
  ~StatusServer();

 private:
  void accept();
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
  Render render_;
};

// The client side (`ntmd status`): returns the report, throws std::runtime_error.
std::string query_status(const std::string& path, bool json);

}  // namespace ntm::node
