-- Event tables of one service schema (platform template: {{schema}} is the service's schema).

-- Events written in the same transaction as the change they describe.
CREATE TABLE {{schema}}.outbox (
  seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id            uuid NOT NULL UNIQUE,
  topic         text NOT NULL,
  key           text NOT NULL,
  envelope      jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON {{schema}}.outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON {{schema}}.outbox (published_at) WHERE published_at IS NOT NULL;

-- One row per (consumer, event) whose effect has been applied: the effect and this row commit together.
CREATE TABLE {{schema}}.processed_events (
  consumer      text NOT NULL,
  event_id      uuid NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

-- Events a consumer of this schema gave up on, with the last error; replayed by `nova dlq replay`.
CREATE TABLE {{schema}}.dlq (
  id            uuid PRIMARY KEY,
  consumer      text NOT NULL,
  topic         text NOT NULL,
  event_id      uuid,
  envelope      jsonb NOT NULL,
  error         text NOT NULL,
  attempts      integer NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  replayed_at   timestamptz
);
CREATE INDEX dlq_open ON {{schema}}.dlq (consumer, created_at) WHERE replayed_at IS NULL;
