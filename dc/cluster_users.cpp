// SPDX-License-Identifier: MIT
#include "cluster_users.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

#include "ntm/common/clock.hpp"

namespace ntm::dc {

ClusterUsers::ClusterUsers(const std::filesystem::path& state_dir) {
  std::filesystem::create_directories(state_dir);
  const auto path = state_dir / "postgres.users";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
}

ClusterUsers::~ClusterUsers() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock, whichever it is
}

void ClusterUsers::join() {
  while (::flock(fd_, LOCK_SH) != 0)
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "flock postgres.users");
}

void ClusterUsers::leave() noexcept { ::flock(fd_, LOCK_UN); }

bool ClusterUsers::wait_alone(std::chrono::milliseconds bound) noexcept {
  // Not a blocking LOCK_EX: a stop must not wait without end for a command
  // that hangs.  Commands are short; 50 ms steps cost nothing here.
  const std::uint64_t until = common::mono_ms() + static_cast<std::uint64_t>(bound.count());
  for (;;) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK && errno != EINTR) return false;
    if (common::mono_ms() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ntm::dc
