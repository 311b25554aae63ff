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

// The wrap key a KeyWrapper seals under for one recipient: a function of
// the recipient's base key, epoch and ID only, so a sealer that serves many
// recipients (the DC) may derive it once per recipient and keep it.
SecretKey derive_wrap_key(const SecretKey& base, KeyDomain domain, std::uint8_t base_epoch,
                          const IdBytes& recipient_id);

class KeyWrapper {
 public:
  // base: the recipient's base key (K_node, K_rs, or a DC-to-DC key);
  // recipient_id: its node, relay or DC ID.
  KeyWrapper(const SecretKey& base, KeyDomain domain, std::uint8_t base_epoch,
             const IdBytes& recipient_id);
  // From a key derive_wrap_key made.
  static KeyWrapper with_wrap_key(const SecretKey& wrap_key) { return KeyWrapper(wrap_key); }
  // Turns to another recipient's wrap key, reusing the cipher contexts.
  Error rekey(const SecretKey& wrap_key) noexcept { return aead_.rekey(wrap_key); }

  // A fresh random nonce per call; throws only if the DRBG fails.
  SealedKey seal(const SecretKey& key, const PathId& path, std::uint8_t path_epoch,
                 SealedKind kind);
  Error open(const SealedKey& sealed, const PathId& path, std::uint8_t path_epoch,
             SealedKind kind, SecretKey& out) noexcept;

 private:
  explicit KeyWrapper(const SecretKey& wrap_key) : aead_(wrap_key) {}
  Aead aead_;
};

}  // namespace ntm::wire
