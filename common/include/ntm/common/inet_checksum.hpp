// SPDX-License-Identifier: MIT
// Incremental Internet checksum update, shared by the two places that
// rewrite addresses in IPv4 packets: ntm-rs's NAPT (relay/translator) and
// ntmd's substitute addresses (node/datapath/view_translation).
#pragma once

#include <cstdint>

namespace ntm::common {

// RFC 1624 eqn. 3: the Internet checksum hc after a covered 16-bit word
// changed from old_word to new_word.  HC' = ~(~HC + ~m + m'), in one's
// complement arithmetic; the sum of three 16-bit words folds in two steps.
constexpr std::uint16_t checksum_adjust(std::uint16_t hc, std::uint16_t old_word,
                                        std::uint16_t new_word) noexcept {
  std::uint32_t sum = static_cast<std::uint16_t>(~hc);
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace ntm::common
