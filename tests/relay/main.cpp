// SPDX-License-Identifier: MIT
// ntm_relay_tests: ntm-rs's logic in-process, and ntm-rs as a process
// between protocol-level clients and a real ntm-dc.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
