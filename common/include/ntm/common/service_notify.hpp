// SPDX-License-Identifier: MIT
// systemd's readiness notification (sd_notify(3)) for Type=notify units:
// one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET.  The protocol
// is a documented stable interface, a few lines long; linking libsystemd
// for it would add a dependency to every build for nothing more.
#pragma once

#include <string_view>

namespace ntm::common {

// Sends `state` (e.g. "READY=1", "STOPPING=1") when run under systemd;
// does nothing otherwise.  Returns false only when sending failed.
bool service_notify(std::string_view state) noexcept;

}  // namespace ntm::common
