-- Username and email changes (README "Accounts and mail").
-- username_changed_at: the last change of username (the cooldown runs from it; NULL: never changed).
ALTER TABLE identity.users ADD COLUMN username_changed_at timestamptz;

-- A name given up by a change stays its old owner's for a while: anyone else is told it is taken,
-- as for a name in use; its owner may take it back.
CREATE TABLE identity.username_reservations (
  username        text PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE RESTRICT,
  expires_at      timestamptz NOT NULL
);
CREATE INDEX username_reservations_user ON identity.username_reservations (user_id);

-- A change of address is confirmed by a token mailed to the new address (email is the new one).
ALTER TABLE identity.email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE identity.email_tokens ADD CONSTRAINT email_tokens_purpose_check
  CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));
