// SPDX-License-Identifier: MIT
// Logging: spdlog to stderr, one line per event with its context
// (peer, type, reason).  Keys and decrypted bodies are never logged.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace ntm::common {

// Sets the default logger's pattern and level ("trace" .. "off").
// Returns false for an unknown level name.
bool init_logging(std::string_view program, std::string_view level);

}  // namespace ntm::common
