-- Email verification and password reset (README "Accounts").
-- email_verified_at: when the current address was verified (NULL: never).
ALTER TABLE identity.users ADD COLUMN email_verified_at timestamptz;

-- One-time tokens sent by mail, stored as SHA-256: the raw token exists only in the mail
-- (and, sealed with identity's key, in the event the mail is made from).
CREATE TABLE identity.email_tokens (
  token_hash      bytea PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE RESTRICT,
  purpose         text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
  -- The address a verification token verifies (a later change of address makes it void).
  email           text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
-- The mail budget counts a user's recent tokens of one purpose.
CREATE INDEX email_tokens_user_recent ON identity.email_tokens (user_id, purpose, created_at);
