-- The owner's lists of blocked and muted accounts (ListBlocked, ListMuted) page newest first by a
-- sequence, as follows do: rows made before this migration get numbers in no particular order.
ALTER TABLE graph.blocks ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX blocks_blocker_seq ON graph.blocks (blocker_id, seq);
ALTER TABLE graph.mutes ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX mutes_muter_seq ON graph.mutes (muter_id, seq);
