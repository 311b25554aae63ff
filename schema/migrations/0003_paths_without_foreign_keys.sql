-- SPDX-License-Identifier: MIT
-- 0003: paths keep no foreign keys and no indexes on their ends; removing
-- a node or a relay still removes or unlinks its paths, through statement
-- triggers.
-- Append-only: never edit a migration after it landed; add a new one.
--
-- Why.  Every Direction inserts a path row (and usually deletes the pair's
-- older one).  With foreign keys, each insert ran two referential checks,
-- each a `SELECT ... FOR KEY SHARE` on a nodes row: an index probe, a row
-- lock written into the node's tuple (a WAL record, and a MultiXact when a
-- registration updates that row in another transaction, as it does in a DC
-- cluster), and three more index entries that only the cascades read.
-- Measured at 5,000 Directions/s (docs/benchmarks.md, "DC"): PostgreSQL's
-- CPU went from 0.41 to 0.31 cores without the keys and to 0.25 without
-- the three indexes too.
--
-- What keeps the table consistent instead.
--   * Removing nodes deletes every path with one of them at either end, and
--     removing relays clears relay_id on their paths: the triggers below,
--     once per statement (a scan of paths; removals are rare operator
--     actions).
--   * A DC process tears down, in memory and in this table, the paths of a
--     node it hears was removed (its change notes).
--   * A path written by one DC process just as another process removed one
--     of its ends outlives the removal only until the next full load of
--     paths, which deletes such rows first (store.cpp, path_orphans).
ALTER TABLE paths
  DROP CONSTRAINT paths_initiator_fkey,
  DROP CONSTRAINT paths_responder_fkey,
  DROP CONSTRAINT paths_relay_id_fkey;
DROP INDEX paths_initiator_idx, paths_responder_idx, paths_relay_idx;

CREATE FUNCTION paths_of_removed_nodes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Hashed subplans: one pass over paths however many nodes went.
  DELETE FROM paths
   WHERE initiator IN (SELECT node_id FROM removed_nodes)
      OR responder IN (SELECT node_id FROM removed_nodes);
  RETURN NULL;
END
$$;

CREATE TRIGGER nodes_remove_paths AFTER DELETE ON nodes
  REFERENCING OLD TABLE AS removed_nodes
  FOR EACH STATEMENT EXECUTE FUNCTION paths_of_removed_nodes();

CREATE FUNCTION paths_of_removed_relays() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE paths SET relay_id = NULL
   WHERE relay_id IN (SELECT relay_id FROM removed_relays);
  RETURN NULL;
END
$$;

CREATE TRIGGER relays_unlink_paths AFTER DELETE ON relays
  REFERENCING OLD TABLE AS removed_relays
  FOR EACH STATEMENT EXECUTE FUNCTION paths_of_removed_relays();
