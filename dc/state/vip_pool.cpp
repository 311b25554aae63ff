// SPDX-License-Identifier: MIT
#include "state/vip_pool.hpp"

namespace ntm::dc::state {

VipPool::VipPool(const config::Ipv4Prefix& pool, std::uint32_t start_offset)
    : pool_(pool), bits_((pool.size() + 63) / 64, 0) {
  const std::uint32_t n = pool_.size();
  free_ = n >= 2 ? n - 2 : 0;  // minus network and broadcast
  cursor_ = n ? start_offset % n : 0;
}

bool VipPool::usable(std::uint32_t offset) const noexcept {
  return offset != 0 && offset + 1 != pool_.size();
}

bool VipPool::is_used(std::uint32_t vip) const noexcept {
  if (!pool_.contains(vip)) return false;
  const std::uint32_t off = vip - pool_.network;
  return (bits_[off / 64] >> (off % 64)) & 1u;
}

bool VipPool::mark_used(std::uint32_t vip) noexcept {
  if (!pool_.contains(vip)) return false;
  const std::uint32_t off = vip - pool_.network;
  if (!usable(off) || is_used(vip)) return false;
  bits_[off / 64] |= std::uint64_t{1} << (off % 64);
  --free_;
  return true;
}

void VipPool::release(std::uint32_t vip) noexcept {
  if (!is_used(vip)) return;
  const std::uint32_t off = vip - pool_.network;
  bits_[off / 64] &= ~(std::uint64_t{1} << (off % 64));
  ++free_;
}

std::optional<std::uint32_t> VipPool::allocate() noexcept {
  if (free_ == 0) return std::nullopt;
  const std::uint32_t n = pool_.size();
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t off = (cursor_ + i) % n;
    // Skip whole used words quickly.
    if (off % 64 == 0 && bits_[off / 64] == ~std::uint64_t{0} && n - off >= 64) {
      i += 63;
      continue;
    }
    const std::uint32_t vip = pool_.network + off;
    if (usable(off) && !is_used(vip)) {
      mark_used(vip);
      cursor_ = (off + 1) % n;
      return vip;
    }
  }
  return std::nullopt;
}

}  // namespace ntm::dc::state
