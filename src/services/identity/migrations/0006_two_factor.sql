-- Two-factor sign-in (TOTP, RFC 6238; README "Accounts and mail").
-- The secret is stored sealed (AES-256-GCM, identity's key, the user bound as associated data).
-- enabled_at NULL: an enrolment waiting for its first code. last_time_step: the TOTP step of the
-- last code accepted, so a code is used once (a replay within its window is refused).
CREATE TABLE identity.two_factor (
  user_id         uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE RESTRICT,
  sealed_secret   text NOT NULL,
  enabled_at      timestamptz,
  last_time_step  bigint NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Ten one-use recovery codes per user, stored as SHA-256 (80 random bits each).
CREATE TABLE identity.recovery_codes (
  user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE RESTRICT,
  code_hash       bytea NOT NULL,
  used_at         timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

-- The second step of a sign-in: a password that was right, waiting for a code. Stored as SHA-256;
-- single use, minutes long.
CREATE TABLE identity.login_challenges (
  token_hash      bytea PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE RESTRICT,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
CREATE INDEX login_challenges_user ON identity.login_challenges (user_id);
