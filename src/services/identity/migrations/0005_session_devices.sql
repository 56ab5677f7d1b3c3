-- Sessions a user can list and end (README "Accounts"): the client each was used from.
-- ip and user_agent are those of the last sign-in or refresh; last_used_at moves at most once a
-- minute (CheckSession), so a busy session costs no write per request.
ALTER TABLE identity.sessions
  ADD COLUMN ip text NOT NULL DEFAULT '',
  ADD COLUMN user_agent text NOT NULL DEFAULT '';
-- The list of a user's active sessions, newest first.
CREATE INDEX sessions_user_active_id ON identity.sessions (user_id, id DESC) WHERE revoked_at IS NULL;
DROP INDEX identity.sessions_user_active;
