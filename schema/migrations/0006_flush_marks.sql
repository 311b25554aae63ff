-- SPDX-License-Identifier: MIT
-- 0006: one row per DC process of a cluster, written after each batch that
-- carried change notes, to make that batch durable.
-- Append-only: never edit a migration after it landed; add a new one.
--
-- Why.  PostgreSQL serialises the commits of transactions that NOTIFY: a
-- notifying transaction takes a database-wide lock before its commit and
-- holds it to the end, through the commit's WAL flush.  With the notes in
-- the write transaction, two members' commits never overlapped, and a
-- cluster's write rate could not grow past one commit stream's
-- (docs/benchmarks.md, "The notes' cost").  In a cluster a member now
-- commits its batch, notes included, without waiting for the flush
-- (synchronous_commit off for that transaction: the lock is held for
-- microseconds), then writes its row here in a transaction of its own with
-- the synchronous commit: that flush covers the batch's commit record,
-- which lies before it in the WAL, and it holds no lock another member's
-- commit waits for.  Only then are the batch's operations acknowledged
-- (docs/dc.md §12.2).
--
-- sender:  the process's notification token (change_note.hpp).
-- batches: how many batches it has made durable this way (a counter an
--          operator or a test can watch; nothing reads it back).
-- at:      the last one's time; a process removes its own row when it
--          stops, and rows untouched for a day (a process that died) at
--          the next start of any process.
CREATE TABLE flush_marks (
  sender text PRIMARY KEY CHECK (sender ~ '^[0-9a-f]{1,64}$'),
  batches bigint NOT NULL CHECK (batches > 0),
  at timestamptz NOT NULL DEFAULT now()
);
