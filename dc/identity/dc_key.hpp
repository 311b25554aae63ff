// SPDX-License-Identifier: MIT
// The DC's long-term key: an X25519 key pair kept in state_dir.  Peer DCs
// find its public half's fingerprint in this DC's DNS discovery record
// (docs/dns.md §2) and, in the federation protocol, derive a pairwise
// control key from it.  The private half never leaves the file here.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace ntm::dc::identity {

class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DcPublicKey {
  std::array<std::uint8_t, 32> bytes{};
  // SHA-256 of the 32 raw public-key bytes, lower-case hex.
  std::string fingerprint_hex() const;
};

// Reads the PEM private key at `file`, or creates one there (mode 0600,
// written to a side file and renamed, so a crash never leaves half a key).
// Throws KeyError naming the file on anything unusable.
DcPublicKey load_or_create(const std::filesystem::path& file);

}  // namespace ntm::dc::identity
