// SPDX-License-Identifier: MIT
// The key hierarchy: every AEAD key in use is derived with HKDF-SHA-256 from
// one base key (K_node, K_rs, K_path, K_rp or a DC-to-DC key), bound to its
// key domain, sender role, purpose, key epoch and the 128-bit ID it serves.
// Two parties therefore never share an AEAD key and nonce space, and a
// message reflected back to its sender cannot open.
#pragma once

#include <array>
#include <cstdint>

#include "ntm/wire.h"
#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::wire {

enum class Purpose : std::uint8_t {
  control = 1,   // control messages of this domain and role
  capsule = 2,   // Capsulated Packets (PATH domain only)
  key_wrap = 3,  // sealing a path or relay key to the holder of the base key
};

using IdBytes = std::array<std::uint8_t, NTM_ID_LEN>;

// info = "NTMobile v1 key" || domain || role || purpose || epoch || id.
// Throws std::runtime_error only if OpenSSL's HKDF fails.
SecretKey derive_key(const SecretKey& base, KeyDomain domain, Role role, Purpose purpose,
                     std::uint8_t epoch, const IdBytes& id);

}  // namespace ntm::wire
