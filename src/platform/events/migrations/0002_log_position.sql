-- The embedded transport reads the outbox itself as its durable log: the relay gives each row a
-- global log position (in commit order) instead of copying it elsewhere.
ALTER TABLE {{schema}}.outbox ADD COLUMN log_position bigint;
CREATE UNIQUE INDEX outbox_log_position ON {{schema}}.outbox (log_position) WHERE log_position IS NOT NULL;

-- `nova dlq replay` asks the running consumer to replay an entry; the consumer clears or closes it.
ALTER TABLE {{schema}}.dlq ADD COLUMN replay_requested_at timestamptz;
CREATE INDEX dlq_replay_requested ON {{schema}}.dlq (consumer) WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL;
