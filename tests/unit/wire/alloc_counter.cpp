// SPDX-License-Identifier: MIT
// Global operator new/delete replacements and OpenSSL memory hooks that
// count allocations.  Linked only into test and benchmark programs.
#include "wire/alloc_counter.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::uint64_t> g_allocs{0};

void* ossl_malloc(size_t n, const char*, int) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* ossl_realloc(void* p, size_t n, const char*, int) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void ossl_free(void* p, const char*, int) { std::free(p); }

// OpenSSL's hooks must be set before its first allocation: a static
// initialiser in this translation unit does that.
const bool g_hooks = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) == 1;

}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too: a library that allocates with them (simdjson does)
// and frees through the replaced delete would otherwise pair the runtime's
// (or ASan's) new with this file's free.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace ntm::test {

AllocCounter::AllocCounter() : start_(g_allocs.load()) { (void)g_hooks; }
AllocCounter::~AllocCounter() = default;
std::uint64_t AllocCounter::allocations() const { return g_allocs.load() - start_; }

}  // namespace ntm::test
