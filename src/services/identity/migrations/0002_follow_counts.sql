-- Follower and following counts on the profile, kept by the consumer of the graph's events.
ALTER TABLE identity.users
  ADD COLUMN follower_count integer NOT NULL DEFAULT 0 CHECK (follower_count >= 0),
  ADD COLUMN following_count integer NOT NULL DEFAULT 0 CHECK (following_count >= 0);
