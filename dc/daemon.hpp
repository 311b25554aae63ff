// SPDX-License-Identifier: MIT
// ntm-dc serve: database, migrations, the in-memory view, the control
// server, the change listener and signal handling, put together.
#pragma once

#include "config/config.hpp"

namespace ntm::dc {

// Runs until SIGINT or SIGTERM; returns the exit status.
int serve(const config::Config& cfg);

}  // namespace ntm::dc
