// SPDX-License-Identifier: MIT
// ntm_dc_tests: ntm-dc as a process, against PostgreSQL, over real UDP.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
