// SPDX-License-Identifier: MIT
#include "ntm/common/tun_device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>

namespace ntm::common {

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// The ioctls that configure an interface go through any AF_INET socket.
class ControlSocket {
 public:
  ControlSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) fail(errno, "tun: socket(AF_INET) for interface ioctls");
  }
  ~ControlSocket() { ::close(fd_); }
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

ifreq request_for(const std::string& name) {
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
  return ifr;
}

void set_inet(sockaddr& sa, std::uint32_t host_order) {
  sockaddr_in sin;
  std::memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(host_order);
  std::memcpy(&sa, &sin, sizeof sin);
}

std::uint32_t mask_of(std::uint8_t prefix_len) {
  return prefix_len == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_len);
}

std::string dotted(std::uint32_t host_order, std::uint8_t prefix_len) {
  char buf[INET_ADDRSTRLEN] = {};
  const std::uint32_t n = htonl(host_order);
  ::inet_ntop(AF_INET, &n, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix_len);
}

}  // namespace

TunDevice::TunDevice(const std::string& name, bool vnet_hdr) : vnet_hdr_(vnet_hdr) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw std::system_error(EINVAL, std::generic_category(),
                            "tun: interface name '" + name + "' must have 1-15 characters");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd_ < 0) fail(errno, "tun: cannot open /dev/net/tun (tun module, CAP_NET_ADMIN?)");
  ifreq ifr = request_for(name);
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0));
  if (::ioctl(fd_, TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail(err, "tun: TUNSETIFF " + name + " (needs CAP_NET_ADMIN; name in use by a non-TUN?)");
  }
  name_.assign(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

TunDevice::TunDevice(TunDevice&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), vnet_hdr_(o.vnet_hdr_), name_(std::move(o.name_)) {}

TunDevice& TunDevice::operator=(TunDevice&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    vnet_hdr_ = o.vnet_hdr_;
    name_ = std::move(o.name_);
  }
  return *this;
}

void TunDevice::set_nonblocking(bool on) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) fail(errno, "tun: fcntl(F_GETFL) " + name_);
  const int want = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (::fcntl(fd_, F_SETFL, want) != 0) fail(errno, "tun: fcntl(F_SETFL) " + name_);
}

void TunDevice::set_mtu(int mtu) {
  ControlSocket s;
  ifreq ifr = request_for(name_);
  ifr.ifr_mtu = mtu;
  if (::ioctl(s.fd(), SIOCSIFMTU, &ifr) != 0)
    fail(errno, "tun: set mtu " + std::to_string(mtu) + " on " + name_);
}

void TunDevice::add_address(std::uint32_t addr_host_order, std::uint8_t prefix_len) {
  if (prefix_len > 32)
    throw std::system_error(EINVAL, std::generic_category(), "tun: prefix length over 32");
  ControlSocket s;
  ifreq ifr = request_for(name_);
  set_inet(ifr.ifr_addr, addr_host_order);
  if (::ioctl(s.fd(), SIOCSIFADDR, &ifr) != 0)
    fail(errno, "tun: set address " + dotted(addr_host_order, prefix_len) + " on " + name_);
  ifr = request_for(name_);
  set_inet(ifr.ifr_netmask, mask_of(prefix_len));
  if (::ioctl(s.fd(), SIOCSIFNETMASK, &ifr) != 0)
    fail(errno, "tun: set netmask /" + std::to_string(prefix_len) + " on " + name_);
}

void TunDevice::up() {
  ControlSocket s;
  ifreq ifr = request_for(name_);
  if (::ioctl(s.fd(), SIOCGIFFLAGS, &ifr) != 0) fail(errno, "tun: get flags of " + name_);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s.fd(), SIOCSIFFLAGS, &ifr) != 0) fail(errno, "tun: set " + name_ + " up");
}

void TunDevice::add_route(std::uint32_t net_host_order, std::uint8_t prefix_len) {
  if (prefix_len > 32)
    throw std::system_error(EINVAL, std::generic_category(), "tun: prefix length over 32");
  ControlSocket s;
  rtentry rt;
  std::memset(&rt, 0, sizeof rt);
  const std::uint32_t mask = mask_of(prefix_len);
  set_inet(rt.rt_dst, net_host_order & mask);
  set_inet(rt.rt_genmask, mask);
  set_inet(rt.rt_gateway, 0);
  rt.rt_flags = RTF_UP;
  if (prefix_len == 32) rt.rt_flags |= RTF_HOST;
  std::string dev = name_;  // rt_dev is a non-const char*
  rt.rt_dev = dev.data();
  if (::ioctl(s.fd(), SIOCADDRT, &rt) != 0 && errno != EEXIST)
    fail(errno, "tun: add route " + dotted(net_host_order & mask, prefix_len) + " dev " + name_);
}

void TunDevice::disable_ipv6() {
  const std::string path = "/proc/sys/net/ipv6/conf/" + name_ + "/disable_ipv6";
  if (::access(path.c_str(), F_OK) != 0) return;  // no IPv6 in this kernel
  std::ofstream f(path);
  f << "1\n";
  f.flush();
  if (!f) fail(EIO, "tun: cannot write " + path);
}

bool TunDevice::enable_tso4() {
  if (!vnet_hdr_) return false;
  return ::ioctl(fd_, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) == 0;
}

}  // namespace ntm::common
