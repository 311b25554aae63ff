// SPDX-License-Identifier: MIT
// ntmd's rtnetlink parser (mobility/link_watch) on arbitrary bytes: the
// kernel is trusted, but a parser that reads past a message it was handed
// would still be a bug.  Seeds: tests/fuzz/corpus/link_watch (written by
// tests/fuzz/link_watch_seeds.py).
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_fixture.hpp"
#include "mobility/link_watch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static boost::asio::io_context io;
  static std::size_t events = 0;
  static ntm::node::LinkWatch watch(io, "ntm-fuzz0", [](ntm::node::LinkEvent) { ++events; });
  const std::size_t before = events;
  std::vector<std::uint8_t> copy(data, data + size);  // exact size: ASan sees overreads
  watch.parse(copy);
  // At most one event per message, and a message is at least a header.
  NTM_FUZZ_CHECK(events - before <= size / 16);
  return 0;
}
