-- Moderators' actions, the standing they leave an account in, and the append-only audit log.
CREATE TABLE moderation.actions (
  id            uuid PRIMARY KEY,
  subject_kind  text NOT NULL CHECK (subject_kind IN ('post', 'comment', 'message', 'account')),
  subject_id    uuid NOT NULL,
  -- The account the action touches (the subject's owner).
  user_id       uuid NOT NULL,
  action        text NOT NULL CHECK (action IN ('dismiss', 'remove', 'mark_sensitive', 'warn', 'suspend', 'ban', 'lift')),
  reason        text NOT NULL DEFAULT '',
  -- A suspension's end.
  until         timestamptz,
  actor_id      uuid NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX actions_of_user ON moderation.actions (user_id, created_at DESC);

-- A suspended (until a time) or banned account; no row: in good standing.
CREATE TABLE moderation.standing (
  user_id    uuid PRIMARY KEY,
  state      text NOT NULL CHECK (state IN ('suspended', 'banned')),
  until      timestamptz CHECK ((state = 'suspended') = (until IS NOT NULL)),
  action_id  uuid NOT NULL REFERENCES moderation.actions (id) ON DELETE RESTRICT
);

-- People in the audit log are pseudonyms: a random id per person, kept only here. Erasing an
-- account deletes its row, and the log then names no one it can be traced to, unchanged. (Random
-- rather than an HMAC of the user id: with a key that survives, anyone who still knows the id could
-- recompute the HMAC and find the person again.)
CREATE TABLE moderation.pseudonyms (
  user_id    uuid PRIMARY KEY,
  pseudonym  uuid NOT NULL UNIQUE DEFAULT gen_random_uuid()
);

CREATE TABLE moderation.audit_log (
  seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  -- What happened: an action taken, an appeal filed or decided.
  entry         text NOT NULL CHECK (entry IN ('action', 'appeal_filed', 'appeal_decided')),
  actor         uuid NOT NULL,
  subject_user  uuid,
  subject_kind  text NOT NULL,
  -- A content id; for an account, the account's pseudonym.
  subject_ref   uuid NOT NULL,
  action_id     uuid NOT NULL,
  decision      text NOT NULL,
  reason        text NOT NULL DEFAULT '',
  before        jsonb NOT NULL DEFAULT '{}',
  after         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_of_action ON moderation.audit_log (action_id, seq);

-- Append-only, whoever connects (the service's role owns the table, so a REVOKE would not bind it).
CREATE FUNCTION moderation.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'moderation.audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON moderation.audit_log
  FOR EACH ROW EXECUTE FUNCTION moderation.refuse_audit_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON moderation.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION moderation.refuse_audit_change();
