-- Account deletion (README "Account deletion"): the owner asks with their password; the account is
-- erased when this moment passes (ACCOUNT_ERASE_AFTER_DAYS later) unless a sign-in cancels it first.
ALTER TABLE identity.users ADD COLUMN deletion_scheduled_at timestamptz;
CREATE INDEX users_deletion_due ON identity.users (deletion_scheduled_at) WHERE deletion_scheduled_at IS NOT NULL;
