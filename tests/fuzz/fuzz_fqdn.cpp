// SPDX-License-Identifier: MIT
// Fqdn::valid and Fqdn::canonicalize on arbitrary strings.  canonicalize's
// output must be valid and a fixed point; a valid name must be its own
// canonical form.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_fixture.hpp"
#include "ntm/wire/types.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ntm::wire::Fqdn;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  const bool valid = Fqdn::valid(in);
  if (valid) NTM_FUZZ_CHECK(size >= 1 && size <= Fqdn::kMaxLen);

  Fqdn f;
  const bool ok = Fqdn::canonicalize(in, f);
  if (valid) NTM_FUZZ_CHECK(ok && f.name == in);
  if (!ok) return 0;

  NTM_FUZZ_CHECK(Fqdn::valid(f.name));
  for (char c : f.name) NTM_FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  NTM_FUZZ_CHECK(f.name.size() == size || f.name.size() + 1 == size);
  Fqdn g;
  NTM_FUZZ_CHECK(Fqdn::canonicalize(f.name, g));
  NTM_FUZZ_CHECK(g.name == f.name);
  return 0;
}
