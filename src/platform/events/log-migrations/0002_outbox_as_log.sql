-- The outbox tables are the log now (their log_position column); this schema keeps the head of
-- the position sequence and each consumer's offset.
DROP TABLE nova_events.log;
CREATE TABLE nova_events.head (
  only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  position  bigint NOT NULL
);
-- Positions stay above every stored offset.
INSERT INTO nova_events.head (position) SELECT coalesce(max(position), 0) FROM nova_events.offsets;
