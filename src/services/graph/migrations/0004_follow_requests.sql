-- Follow requests to private accounts: one pending row per (requester, target) until the target
-- approves (the row becomes a follow), denies, or the requester withdraws; a block removes it.
CREATE TABLE graph.follow_requests (
  requester_id  uuid NOT NULL,
  target_id     uuid NOT NULL CHECK (target_id <> requester_id),
  -- The owner's list order (ListFollowRequests), newest first.
  seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (requester_id, target_id)
);
CREATE INDEX follow_requests_target ON graph.follow_requests (target_id, seq DESC);
