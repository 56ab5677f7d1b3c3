-- Appeals: one per action, by the account it touched, decided by a moderator who did not take it.
CREATE TABLE moderation.appeals (
  id              uuid PRIMARY KEY,
  action_id       uuid NOT NULL UNIQUE REFERENCES moderation.actions (id) ON DELETE RESTRICT,
  appellant_id    uuid NOT NULL,
  statement       text NOT NULL,
  state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'upheld', 'overturned')),
  decided_by      uuid,
  decision_reason text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  decided_at      timestamptz,
  CHECK ((state = 'open') = (decided_by IS NULL))
);
