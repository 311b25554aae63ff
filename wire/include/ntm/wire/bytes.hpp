// SPDX-License-Identifier: MIT
// Bounds-checked big-endian reader and writer over caller-owned memory.
// This is the one place where untrusted bytes are turned into integers:
// every read checks what remains first, no read ever goes past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ntm/wire/error.hpp"

namespace ntm::wire {

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) noexcept : in_(in) {}

  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  // The error that stopped reading, or ok.  Once set, every read fails.
  Error error() const noexcept { return err_; }
  bool ok() const noexcept { return err_ == Error::ok; }

  bool u8(std::uint8_t& v) noexcept {
    const std::uint8_t* p = take(1);
    if (!p) return false;
    v = p[0];
    return true;
  }
  bool u16(std::uint16_t& v) noexcept {
    const std::uint8_t* p = take(2);
    if (!p) return false;
    v = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    return true;
  }
  bool u32(std::uint32_t& v) noexcept {
    const std::uint8_t* p = take(4);
    if (!p) return false;
    v = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
        std::uint32_t{p[3]};
    return true;
  }
  bool u64(std::uint64_t& v) noexcept {
    std::uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = (std::uint64_t{hi} << 32) | lo;
    return true;
  }
  bool bytes(std::span<std::uint8_t> out) noexcept {
    const std::uint8_t* p = take(out.size());
    if (!p) return false;
    if (!out.empty()) std::memcpy(out.data(), p, out.size());
    return true;
  }
  // A view of the next n bytes, valid as long as the input is.
  bool view(std::size_t n, std::span<const std::uint8_t>& out) noexcept {
    const std::uint8_t* p = take(n);
    if (!p) return false;
    out = {p, n};
    return true;
  }
  // Records a semantic error (bad enum, bad FQDN ...) and stops reading.
  bool fail(Error e) noexcept {
    if (err_ == Error::ok) err_ = e;
    return false;
  }
  // Succeeds only if every byte was consumed.
  Error finish() noexcept {
    if (err_ == Error::ok && remaining() != 0) err_ = Error::trailing_bytes;
    return err_;
  }

 private:
  const std::uint8_t* take(std::size_t n) noexcept {
    if (err_ != Error::ok) return nullptr;
    if (n > remaining()) {
      err_ = Error::truncated;
      return nullptr;
    }
    const std::uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  Error err_ = Error::ok;
};

class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) noexcept : out_(out) {}

  std::size_t size() const noexcept { return pos_; }
  Error error() const noexcept { return err_; }
  bool ok() const noexcept { return err_ == Error::ok; }

  void u8(std::uint8_t v) noexcept {
    if (std::uint8_t* p = take(1)) p[0] = v;
  }
  void u16(std::uint16_t v) noexcept {
    if (std::uint8_t* p = take(2)) {
      p[0] = static_cast<std::uint8_t>(v >> 8);
      p[1] = static_cast<std::uint8_t>(v);
    }
  }
  void u32(std::uint32_t v) noexcept {
    if (std::uint8_t* p = take(4)) {
      p[0] = static_cast<std::uint8_t>(v >> 24);
      p[1] = static_cast<std::uint8_t>(v >> 16);
      p[2] = static_cast<std::uint8_t>(v >> 8);
      p[3] = static_cast<std::uint8_t>(v);
    }
  }
  void u64(std::uint64_t v) noexcept {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void bytes(std::span<const std::uint8_t> in) noexcept {
    if (std::uint8_t* p = take(in.size()); p && !in.empty()) std::memcpy(p, in.data(), in.size());
  }
  void fail(Error e) noexcept {
    if (err_ == Error::ok) err_ = e;
  }

 private:
  std::uint8_t* take(std::size_t n) noexcept {
    if (err_ != Error::ok) return nullptr;
    if (n > out_.size() - pos_) {
      err_ = Error::too_large;
      return nullptr;
    }
    std::uint8_t* p = out_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<std::uint8_t> out_;
  std::size_t pos_ = 0;
  Error err_ = Error::ok;
};

}  // namespace ntm::wire
