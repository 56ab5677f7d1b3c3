-- Accounts the moderation module suspended or banned (its AccountSuspended, AccountBanned and
-- AccountReinstated events): no session opens for them while the restriction holds.
CREATE TABLE identity.account_restrictions (
  -- Goes with its account (a cascade on purpose: nothing else refers to it).
  user_id    uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE CASCADE,
  state      text NOT NULL CHECK (state IN ('suspended', 'banned')),
  -- A suspension's end; null for a ban.
  until      timestamptz CHECK ((state = 'suspended') = (until IS NOT NULL)),
  action_id  uuid NOT NULL
);
