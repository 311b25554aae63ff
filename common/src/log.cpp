// SPDX-License-Identifier: MIT
#include "ntm/common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace ntm::common {

bool init_logging(std::string_view program, std::string_view level) {
  const auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_color_mt(std::string(program));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace ntm::common
