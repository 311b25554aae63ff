-- SPDX-License-Identifier: MIT
-- Fixture for the migration generator tests (never applied).
SELECT 1;
