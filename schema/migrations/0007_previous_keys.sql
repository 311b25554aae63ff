-- SPDX-License-Identifier: MIT
-- 0007: a party's previous key, kept for a grace period after a re-key.
-- Append-only: never edit a migration after it landed; add a new one.
--
-- Why.  `ntm-dc node rekey` replaced the key and refused the old one at
-- once, so a node was offline from the command until its daemon had the new
-- file and a SIGHUP.  `rekey --grace DURATION` keeps the replaced key here:
-- the DC accepts messages under it (their header names its key epoch, the
-- current one minus 1 modulo 256) until prev_key_until, or until the party
-- first speaks under the new key, whichever comes first; then both columns
-- go back to NULL (docs/dc.md §11).  A re-key without --grace clears them:
-- that is the one to use for a key that leaked.
ALTER TABLE nodes
  ADD COLUMN prev_key bytea CHECK (octet_length(prev_key) = 32),
  ADD COLUMN prev_key_until timestamptz,
  ADD CONSTRAINT nodes_prev_key_pair CHECK ((prev_key IS NULL) = (prev_key_until IS NULL));

ALTER TABLE relays
  ADD COLUMN prev_key bytea CHECK (octet_length(prev_key) = 32),
  ADD COLUMN prev_key_until timestamptz,
  ADD CONSTRAINT relays_prev_key_pair CHECK ((prev_key IS NULL) = (prev_key_until IS NULL));
