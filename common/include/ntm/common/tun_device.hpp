// SPDX-License-Identifier: MIT
// A Linux TUN interface (IFF_TUN | IFF_NO_PI): every read is one IPv4 (or
// IPv6) datagram, every write puts one into the kernel's stack.  Set up with
// ioctls on an AF_INET datagram socket, never with external commands, so a
// daemon needs CAP_NET_ADMIN and nothing else.  Used by ntm-rs (translated
// replies) and ntmd (the node's virtual interface).
#pragma once

#include <cstdint>
#include <string>

namespace ntm::common {

class TunDevice {
 public:
  // name: "ntm0", or a pattern like "ntm%d" (the kernel picks the number;
  // name() returns the result).  Throws std::system_error with a message
  // naming the device and the step that failed.
  explicit TunDevice(const std::string& name, bool vnet_hdr = false);
  // With vnet_hdr: every read and write starts with a 10-byte struct
  // virtio_net_hdr.  Asks the kernel for checksum and TCPv4 segmentation
  // offload (TUN_F_CSUM | TUN_F_TSO4); false if it refuses.
  bool enable_tso4();
  bool vnet_hdr() const noexcept { return vnet_hdr_; }
  ~TunDevice();
  TunDevice(TunDevice&& o) noexcept;
  TunDevice& operator=(TunDevice&& o) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  int fd() const noexcept { return fd_; }
  const std::string& name() const noexcept { return name_; }

  void set_nonblocking(bool on);
  void set_mtu(int mtu);
  // Like `ip addr add A/P dev NAME` (IPv4).
  void add_address(std::uint32_t addr_host_order, std::uint8_t prefix_len);
  // Like `ip link set NAME up`.
  void up();
  // Like `ip route add N/P dev NAME` (SIOCADDRT); the interface must be up.
  void add_route(std::uint32_t net_host_order, std::uint8_t prefix_len);
  // Writes 1 to /proc/sys/net/ipv6/conf/NAME/disable_ipv6 if it exists:
  // otherwise the kernel sends router solicitations and MLD reports into
  // the TUN, which the daemon would only have to drop.
  void disable_ipv6();

 private:
  int fd_ = -1;
  bool vnet_hdr_ = false;
  std::string name_;
};

}  // namespace ntm::common
