// SPDX-License-Identifier: MIT
// The translate mode's kernel side: an nftables table `ip ntm-rs` that
// masquerades what the RS writes into its TUN (source = a node's VIP) when
// it leaves by any other interface, and lets into the TUN only replies
// (ct state established,related), so a general host can never open a
// connection towards a node.  Applied atomically with `nft -f -` (a stale
// table from a crashed run is replaced in the same transaction) and removed
// at exit.  Also IPv4 forwarding on and rp_filter off on the TUN.
#pragma once

#include <cstdint>
#include <string>

namespace ntm::relay {

inline constexpr const char* kNftTable = "ntm-rs";

// The nft script that (re)creates the table.
std::string nft_ruleset(const std::string& tun, std::uint32_t virtual_net,
                        std::uint8_t prefix_len);

// Runs `nft -f -` with the script on stdin; false with *error on failure.
bool run_nft(const std::string& script, std::string* error);

// Writes value to a /proc/sys file; throws std::runtime_error naming it.
void write_sysctl(const std::string& path, const char* value);

// Installs the table and the sysctls; throws std::runtime_error.
void install_nat(const std::string& tun, std::uint32_t virtual_net, std::uint8_t prefix_len);
// Deletes the table if it exists (no error if not).
void remove_nat() noexcept;

}  // namespace ntm::relay
