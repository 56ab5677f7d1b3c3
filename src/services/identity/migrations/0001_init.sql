-- identity: accounts, sessions (refresh-token families) and refresh tokens.
CREATE TABLE identity.users (
  id              uuid PRIMARY KEY DEFAULT uuidv7(),
  email           text NOT NULL,
  username        text NOT NULL CHECK (username ~ '^[a-z0-9_]{3,30}$'),
  password_hash   text NOT NULL,
  display_name    text NOT NULL DEFAULT '',
  bio             text NOT NULL DEFAULT '',
  avatar_url      text NOT NULL DEFAULT '',
  failed_logins   integer NOT NULL DEFAULT 0,
  locked_until    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON identity.users (username);
CREATE UNIQUE INDEX users_email_key ON identity.users (lower(email));

-- One row per login: the family of every refresh token rotated from it.
CREATE TABLE identity.sessions (
  id              uuid PRIMARY KEY DEFAULT uuidv7(),
  user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE RESTRICT,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_used_at    timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  revoked_at      timestamptz,
  revoked_reason  text
);
CREATE INDEX sessions_user_active ON identity.sessions (user_id) WHERE revoked_at IS NULL;

-- Opaque refresh tokens, stored as SHA-256; used_at set on rotation.
CREATE TABLE identity.refresh_tokens (
  token_hash      bytea PRIMARY KEY,
  session_id      uuid NOT NULL REFERENCES identity.sessions (id) ON DELETE RESTRICT,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
CREATE INDEX refresh_tokens_session ON identity.refresh_tokens (session_id);
