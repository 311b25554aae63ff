-- SPDX-License-Identifier: MIT
-- 0005: a federated path at the CN's DC keeps its initiator's FQDN.
-- Append-only: never edit a migration after it landed; add a new one.
--
-- Why.  Only the MN's DC may re-direct a federated path (it decides the
-- route and makes the keys), but only the CN's DC sees the CN move.  To ask
-- the MN's DC to reconsider the path (Path Moved, docs/federation.md §5), the
-- CN's DC must know which peer DC that is: the one whose zones hold the
-- initiator's name.  No row of nodes holds that name (the initiator is
-- another DC's node), so the path keeps it, and so does every process of the
-- cluster, after restarts too.
--
-- initiator_fqdn: the initiator's FQDN where the initiator is another DC's
--   node (remote paths at the CN's DC); NULL elsewhere, and for rows written
--   before this migration (such a path is not reported to its peer DC when CN
--   moves: the nodes' own dead-path detection re-directs it, as before).
ALTER TABLE paths
  ADD COLUMN initiator_fqdn text
    CHECK (initiator_fqdn IS NULL OR (initiator_fqdn <> '' AND length(initiator_fqdn) <= 253));
