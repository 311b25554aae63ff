// SPDX-License-Identifier: MIT
// A peer DC's certificate as ntm-dc checks it (dc/federation/certificate):
// DER straight from a Peer Hello, before anything about its sender is
// known.  Against a fixed CA, at a fixed time inside the seeds' validity:
// whatever passes names a DC id, at least one zone and an X25519 key whose
// fingerprint is the SHA-256 of that key, and is the input itself; every
// refusal gives a reason; the same input gets the same verdict.
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>

#include "federation/certificate.hpp"
#include "fuzz_fixture.hpp"

namespace {

// The CA that issued the committed seeds (corpus/peer_certificate, made with
// deploy/issue-dc-cert.sh; valid 2026-12-03 to 2046).
constexpr const char* kCa = R"(-----BEGIN CERTIFICATE-----
MIIBZzCCARmgAwIBAgIUNVg6Dvx/tuyx8c9WXLtBZmavfyQwBQYDK2VwMCExHzAd
BgNVBAMMFm50bSBmdXp6IGZlZGVyYXRpb24gQ0EwHhcNMjYxMjAzMTIzNjM1WhcN
NDYxMTI4MTIzNjM1WjAhMR8wHQYDVQQDDBZudG0gZnV6eiBmZWRlcmF0aW9uIENB
MCowBQYDK2VwAyEAPscOwFXU3O9E8Ved1og5MT++3sLUYck9a66zN28xTJajYzBh
MB0GA1UdDgQWBBRUdbDITBlr6IYTzPka4fFOktH+FTAfBgNVHSMEGDAWgBRUdbDI
TBlr6IYTzPka4fFOktH+FTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIC
BDAFBgMrZXADQQDQ2M44MSewiC0mVGu0EVu+08NBoEfHfzFsD5AHMwamOkNfqB+5
2dG5ecmSUY08UXysv5iWa9eOGwP7vHGbu2YG
-----END CERTIFICATE-----
)";
constexpr std::int64_t kNow = 1'830'000'000;  // 2027-12-28

const ntm::dc::federation::Authority& authority() {
  static const auto* ca = [] {
    const auto file = std::filesystem::temp_directory_path() /
                      ("ntm-fuzz-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(file) << kCa;
    auto* a = new ntm::dc::federation::Authority(file);
    std::filesystem::remove(file);
    return a;
  }();
  return *ca;
}

std::string sha256_hex(const std::array<std::uint8_t, 32>& key) {
  unsigned char md[32];
  unsigned len = 0;
  EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  char two[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    out += two;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> der(data, size);
  std::string why;
  const auto cert = authority().verify(der, kNow, why);
  if (!cert) {
    NTM_FUZZ_CHECK(!why.empty());
    std::string again;
    NTM_FUZZ_CHECK(!authority().verify(der, kNow, again) && again == why);
    return 0;
  }
  NTM_FUZZ_CHECK(size <= ntm::dc::federation::Authority::kMaxDer);
  NTM_FUZZ_CHECK(!cert->dc_id.is_zero());
  NTM_FUZZ_CHECK(!cert->zones.empty());
  for (const auto& z : cert->zones) NTM_FUZZ_CHECK(!z.empty() && z.back() != '.');
  NTM_FUZZ_CHECK(cert->fingerprint_hex == sha256_hex(cert->public_key));
  NTM_FUZZ_CHECK(cert->der.size() == size && std::equal(cert->der.begin(), cert->der.end(), data));
  return 0;
}
