-- SPDX-License-Identifier: MIT
-- 0004: federated paths are rows too, and each end's address for its peer
-- (the Route Direction's peer_view) is kept with the path.
-- Append-only: never edit a migration after it landed; add a new one.
--
-- Why.  A federated path has one end that is another DC's node.  Until
-- now it lived in the memory of the DC process that directed it only: a
-- restart, or a move that reached another process of the cluster, directed
-- it afresh instead of re-directing it under the next key epoch; and an end
-- whose peer's VIP clashed with its own view (pools of different DCs may
-- overlap, docs/dc.md §8.5) could get a different substitute address after
-- a restart, which breaks its applications' connections.
--
-- remote: one end is another DC's node (the initiator at the CN's DC, the
--   responder at the MN's).  Its ID is in initiator or responder as for any
--   path, but no row of nodes holds it: the removal trigger of 0003 still
--   deletes the path when the local end goes, and the full load's orphan
--   check (store.cpp, path_orphans_delete) asks only for the local end.
-- initiator_view: the address the initiator uses for the responder;
-- responder_view: the responder's for the initiator.  NULL: not chosen
--   (a general host has no view; rows written before this migration).
ALTER TABLE paths
  ADD COLUMN remote boolean NOT NULL DEFAULT false,
  ADD COLUMN initiator_view inet
    CHECK (initiator_view IS NULL OR (family(initiator_view) = 4 AND masklen(initiator_view) = 32)),
  ADD COLUMN responder_view inet
    CHECK (responder_view IS NULL OR (family(responder_view) = 4 AND masklen(responder_view) = 32));
