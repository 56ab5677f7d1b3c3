-- Roles: a moderator works the moderation queue (reports, actions, appeals); an admin may too, and
-- a moderator may not act on an admin. Granted with `nova admin grant <username> --role moderator`.
ALTER TABLE identity.users DROP CONSTRAINT users_role_check;
ALTER TABLE identity.users ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'admin', 'moderator'));
