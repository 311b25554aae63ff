// SPDX-License-Identifier: MIT
// Sealing a path key to one recipient.  The DC makes K_path (and K_rp) once
// per path and seals a separate copy to each recipient under a wrap key
// derived from that recipient's own base key.  The sealed copy is bound to
// the path ID, key epoch and kind, so it cannot be moved to another path or
// passed off as the other kind of key.
#pragma once

#include <cstdint>

#include "ntm/wire/aead.hpp"
#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::wire {

enum class SealedKind : std::uint8_t {
  path_key = 1,     // K_path: end to end
  relay_key = 2,    // K_rp: ends <-> RS
  general_key = 3,  // MN <-> RS of a path to a general host
};

class KeyWrapper {
 public:
  // base: the recipient's base key (K_node, K_rs, or a DC-to-DC key);
  // recipient_id: its node, relay or DC ID.
  KeyWrapper(const SecretKey& base, KeyDomain domain, std::uint8_t base_epoch,
             const IdBytes& recipient_id);

  // A fresh random nonce per call; throws only if the DRBG fails.
  SealedKey seal(const SecretKey& key, const PathId& path, std::uint8_t path_epoch,
                 SealedKind kind);
  Error open(const SealedKey& sealed, const PathId& path, std::uint8_t path_epoch,
             SealedKind kind, SecretKey& out) noexcept;

 private:
  Aead aead_;
};

}  // namespace ntm::wire
