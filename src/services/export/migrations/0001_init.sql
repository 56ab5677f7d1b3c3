-- export: users' archives of their own data (GDPR Article 20). The archive's bytes live in the media
-- store under blob_key; this row says whose it is, how far its build went and until when its link works.
CREATE TABLE export.archives (
  id            uuid PRIMARY KEY DEFAULT uuidv7(),
  user_id       uuid NOT NULL,
  status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'READY', 'FAILED', 'EXPIRED')),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  ready_at      timestamptz,
  expires_at    timestamptz,
  blob_key      text,
  byte_size     bigint NOT NULL DEFAULT 0,
  CHECK ((status = 'READY') = (blob_key IS NOT NULL AND ready_at IS NOT NULL AND expires_at IS NOT NULL))
);
CREATE INDEX archives_user ON export.archives (user_id, requested_at DESC);
-- One build at a time per user, whatever races the requests run.
CREATE UNIQUE INDEX archives_one_pending ON export.archives (user_id) WHERE status = 'PENDING';
CREATE INDEX archives_expiring ON export.archives (expires_at) WHERE status = 'READY';
