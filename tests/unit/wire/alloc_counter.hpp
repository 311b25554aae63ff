// SPDX-License-Identifier: MIT
// Counts heap allocations made through operator new and through OpenSSL's
// allocator while an AllocCounter is alive (test and benchmark helper).
#pragma once

#include <cstdint>

namespace ntm::test {

class AllocCounter {
 public:
  AllocCounter();
  ~AllocCounter();
  std::uint64_t allocations() const;

 private:
  std::uint64_t start_;
};

}  // namespace ntm::test
