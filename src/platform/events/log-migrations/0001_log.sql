-- The embedded transport: the relay appends outbox rows here instead of publishing to Kafka,
-- and each consumer keeps its position in it.
CREATE TABLE nova_events.log (
  position      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic         text NOT NULL,
  key           text NOT NULL,
  envelope      jsonb NOT NULL,
  appended_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX log_topic_position ON nova_events.log (topic, position);

CREATE TABLE nova_events.offsets (
  consumer      text PRIMARY KEY,
  position      bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
