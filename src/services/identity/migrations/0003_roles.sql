-- Roles: an admin may moderate (delete others' posts and comments). Granted with `nova admin grant`.
ALTER TABLE identity.users ADD COLUMN role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));
