// SPDX-License-Identifier: MIT
// ntm_pg_tests: the pg tier (needs PostgreSQL; see tests/pg/CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
