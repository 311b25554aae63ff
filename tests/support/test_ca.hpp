// SPDX-License-Identifier: MIT
// Certificates for tests, made with the OpenSSL API (no openssl(1)): an
// Ed25519 CA and X25519 DC certificates as docs/federation.md §8 has them
// (CN = the DC id, subjectAltName dNSName = the zones).  Link ntm_test_ca.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ntm::test {

struct TestCa {  // Ed25519, self-signed, CA:TRUE
  std::string cert_pem;
  std::string key_pem;
};
TestCa make_ca(const std::string& name);

struct X25519Pair {
  std::string private_pem;
  std::array<std::uint8_t, 32> public_key{};
};
X25519Pair make_x25519();

// A certificate for the X25519 public_key, signed by ca, as PEM.
// not_before/not_after are offsets in seconds from now; zones empty: no
// subjectAltName at all.
std::string issue(const TestCa& ca, const std::array<std::uint8_t, 32>& public_key,
                  const std::string& cn, const std::vector<std::string>& zones,
                  long not_before = -60, long not_after = 86400);
// The same for any subject key (an Ed25519 leaf, say).
std::string issue_key(const TestCa& ca, EVP_PKEY* subject_key, const std::string& cn,
                      const std::vector<std::string>& zones, long not_before = -60,
                      long not_after = 86400);

std::vector<std::uint8_t> pem_to_der(const std::string& cert_pem);

}  // namespace ntm::test
