// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "ntm/common/service_notify.hpp"

namespace {

// A datagram socket standing in for systemd's notification socket.
struct FakeSystemd {
  int fd = -1;
  explicit FakeSystemd(const std::string& name, bool abstract) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (abstract) a.sun_path[0] = '\0';
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~FakeSystemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd);
  }
  std::string receive() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return {};
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
};

}  // namespace

TEST_CASE("service_notify: READY=1 reaches the socket named by NOTIFY_SOCKET") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("ntm-notify-" + std::to_string(::getpid()) + ".sock");
  std::filesystem::remove(path);
  {
    FakeSystemd sd(path.string(), false);
    CHECK(ntm::common::service_notify("READY=1"));
    CHECK(sd.receive() == "READY=1");
  }
  std::filesystem::remove(path);
  {
    FakeSystemd sd("@ntm-notify-" + std::to_string(::getpid()), true);
    CHECK(ntm::common::service_notify("STOPPING=1"));
    CHECK(sd.receive() == "STOPPING=1");
  }
}

TEST_CASE("service_notify: without systemd nothing is sent and nothing fails") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK(ntm::common::service_notify("READY=1"));
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  CHECK_FALSE(ntm::common::service_notify("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
}
