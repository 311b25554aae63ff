// SPDX-License-Identifier: MIT
// The anti-replay bitmaps against a plain model (the set of counters seen).
// Not a decoder, but it is what ControlChannel::open and CapsuleOpener::open
// consult right after the tag, and its ring arithmetic is easy to get
// subtly wrong.  Both instantiations in use are driven by the same steps:
// the protocol's window and the DC's compact per-node one.  Input: a
// sequence of steps, each a mode byte and an operand choosing the next
// counter relative to the highest seen (by the protocol window's model).
#include <cstddef>
#include <cstdint>
#include <set>

#include "fuzz_fixture.hpp"
#include "ntm/wire/replay_window.hpp"

namespace {

template <std::uint64_t Bits>
struct Model {
  std::set<std::uint64_t> seen;  // only counters still inside the window
  std::uint64_t top = 0;
  bool any = false;

  bool check(std::uint64_t c) const {
    if (c >= NTM_COUNTER_REJECT_AFTER) return false;
    if (!any || c > top) return true;
    if (top - c >= Bits) return false;
    return seen.count(c) == 0;
  }
  bool update(std::uint64_t c) {
    if (!check(c)) return false;
    seen.insert(c);
    if (!any || c > top) top = c;
    any = true;
    // Forget what fell out of the window so that the set stays small.
    const std::uint64_t floor =
        top >= Bits ? top - Bits + 1 : 0;
    seen.erase(seen.begin(), seen.lower_bound(floor));
    return true;
  }
};

struct Input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint64_t take(std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes && n > 0; ++i, ++p, --n) v = (v << 8) | *p;
    return v;
  }
};

template <std::uint64_t Bits>
struct Checked {
  ntm::wire::BasicReplayWindow<Bits> window;
  Model<Bits> model;

  void step(std::uint64_t c) {
    NTM_FUZZ_CHECK(window.check(c) == model.check(c));
    NTM_FUZZ_CHECK(window.update(c) == model.update(c));
    NTM_FUZZ_CHECK(!window.check(c));  // once recorded, never again
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Checked<ntm::wire::ReplayWindow::kBits> wide;
  Checked<256> compact;  // the window of the DC's CompactReplayGuard
  Input in{data, size};
  while (in.n > 0) {
    const std::uint64_t top = wide.model.top;  // the same in both: any newer counter is taken
    const auto mode = in.take(1);
    std::uint64_t c = 0;
    switch (mode & 3) {
      case 0: c = top + in.take(1); break;       // a little ahead
      case 1: c = top - in.take(2); break;       // behind: in or out of the window
      case 2: c = top + in.take(2) * 64; break;  // word-sized jumps ahead
      default: c = in.take(8); break;            // anywhere, limits included
    }
    wide.step(c);
    compact.step(c);
  }
  return 0;
}
