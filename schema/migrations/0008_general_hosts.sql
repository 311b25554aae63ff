-- SPDX-License-Identifier: MIT
-- 0008: the VIPs that stand for general hosts, one per name.
-- Append-only: never edit a migration after it landed; add a new one.
--
-- Why.  A general host (a name outside every served zone, running no
-- NTMobile) appears in its initiators' views under a VIP from
-- [vip] general_pool (docs/dc.md §10).  These VIPs lived in each DC
-- process's memory: never released, so a long-running DC ran out of them
-- (65,534 distinct names with the default /16, then every general-host
-- direction failed with no_route); different per member of a cluster, and
-- after a restart.  Here one row per name is shared by every member and
-- survives restarts.  last_used is the last claim (a direction towards the
-- host); a row no path leads to and nobody claimed for [vip] general_hold_s
-- is forgotten by the DC's sweep, which frees its address.
CREATE TABLE general_hosts (
  name      text PRIMARY KEY CHECK (name <> '' AND length(name) <= 253),
  vip       inet NOT NULL UNIQUE CHECK (family(vip) = 4 AND masklen(vip) = 32),
  last_used timestamptz NOT NULL DEFAULT now()
);

-- The sweep looks for old rows only.
CREATE INDEX general_hosts_last_used ON general_hosts (last_used);
