// SPDX-License-Identifier: MIT
// Virtual IPv4 address allocation from the DC's pool.  A bitmap of the pool
// (a /8 is 2 MiB); the network and broadcast addresses are never handed
// out.  The database's UNIQUE(vip) is the final guard between processes;
// this class only picks candidates.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "config/config.hpp"

namespace ntm::dc::state {

class VipPool {
 public:
  explicit VipPool(const config::Ipv4Prefix& pool, std::uint32_t start_offset = 0);

  // Marks an address taken (loaded from the database).  False when it is
  // outside the pool or was already taken.
  bool mark_used(std::uint32_t vip) noexcept;
  void release(std::uint32_t vip) noexcept;
  bool is_used(std::uint32_t vip) const noexcept;
  // The next free address after the cursor, marked used; nullopt when the
  // pool is exhausted.
  std::optional<std::uint32_t> allocate() noexcept;
  std::uint32_t free_count() const noexcept { return free_; }
  const config::Ipv4Prefix& prefix() const noexcept { return pool_; }

 private:
  bool usable(std::uint32_t offset) const noexcept;
  config::Ipv4Prefix pool_;
  std::vector<std::uint64_t> bits_;
  std::uint32_t cursor_ = 0;
  std::uint32_t free_ = 0;
};

}  // namespace ntm::dc::state
