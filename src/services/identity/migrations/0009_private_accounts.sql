-- A private account: a follow becomes a request the owner decides (graph), and the gateway shows
-- the account's content only to the owner and approved followers.
ALTER TABLE identity.users ADD COLUMN is_private boolean NOT NULL DEFAULT false;
