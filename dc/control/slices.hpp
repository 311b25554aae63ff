// SPDX-License-Identifier: MIT
// Passes over every party or path in slices, one slice per timer tick: a
// single pass over 100,000 entries holds the I/O thread for tens of
// milliseconds, which every message arriving meanwhile would wait out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace ntm::dc::control {

// The IDs of the pass under way and the next one to visit.  An ID whose
// entry went meanwhile is the visitor's to skip; one added meanwhile waits
// for the next pass.
template <class Id>
struct SlicedPass {
  std::vector<Id> ids;
  std::size_t pos = 0;

  // Visits the next of `slices` slices; starts a new pass (fill(ids)) when
  // the last one is done.
  template <class Fill, class Visit>
  void next(std::size_t slices, Fill&& fill, Visit&& visit) {
    if (pos >= ids.size()) {
      ids.clear();
      fill(ids);
      pos = 0;
    }
    const std::size_t end = std::min(ids.size(), pos + ids.size() / slices + 1);
    for (; pos < end; ++pos) visit(ids[pos]);
  }
};

}  // namespace ntm::dc::control
