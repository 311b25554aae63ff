// SPDX-License-Identifier: MIT
// Watches the host's addresses, links and default route over rtnetlink, so
// that ntmd learns of a move the moment the kernel does (no polling in the
// path; docs/mobility.md §1).  Events on the node's own TUN device (its VIP,
// the route of the virtual range) and on loopback are not moves and are
// left out.  The kernel's NLMSG_* macros are all the parsing this needs,
// so no netlink library is pulled in.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace ntm::node {

// What changed, for the log.
enum class LinkEvent { address, route, link, overrun };
std::string_view to_string(LinkEvent e);

class LinkWatch {
 public:
  using Handler = std::function<void(LinkEvent)>;

  // ignore_device: the TUN device's name (its index is looked up per event,
  // since the device may be created after the watch).
  LinkWatch(boost::asio::io_context& io, std::string ignore_device, Handler on_change);
  ~LinkWatch();
  LinkWatch(const LinkWatch&) = delete;
  LinkWatch& operator=(const LinkWatch&) = delete;

  // Opens the rtnetlink socket; false (errno set) if the kernel refuses.
  bool start();
  void stop();

  // Parses one buffer of rtnetlink messages and calls the handler for each
  // that may be a move.  Public for the unit tests.
  void parse(std::span<const std::uint8_t> buf);

 private:
  void wait();
  void drain();
  bool ignored_interface(int ifindex) const;

  std::string ignore_device_;
  Handler on_change_;
  int fd_ = -1;
  boost::asio::posix::stream_descriptor watch_;
  bool running_ = false;
};

}  // namespace ntm::node
