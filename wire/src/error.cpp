// SPDX-License-Identifier: MIT
#include "ntm/wire/error.hpp"

namespace ntm::wire {

std::string_view to_string(Error e) noexcept {
  switch (e) {
    case Error::ok: return "ok";
    case Error::truncated: return "truncated";
    case Error::trailing_bytes: return "trailing_bytes";
    case Error::bad_version: return "bad_version";
    case Error::bad_type: return "bad_type";
    case Error::bad_flags: return "bad_flags";
    case Error::bad_domain: return "bad_domain";
    case Error::bad_reserved: return "bad_reserved";
    case Error::bad_enum: return "bad_enum";
    case Error::bad_length: return "bad_length";
    case Error::bad_fqdn: return "bad_fqdn";
    case Error::bad_address: return "bad_address";
    case Error::bad_text: return "bad_text";
    case Error::too_large: return "too_large";
    case Error::auth_failed: return "auth_failed";
    case Error::replayed: return "replayed";
    case Error::stale: return "stale";
    case Error::counter_exhausted: return "counter_exhausted";
    case Error::unknown_key: return "unknown_key";
    case Error::too_many_senders: return "too_many_senders";
    case Error::crypto_failure: return "crypto_failure";
  }
  return "unknown";
}

}  // namespace ntm::wire
