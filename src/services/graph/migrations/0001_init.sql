-- graph: follows, blocks, mutes, and exact counts.
CREATE TABLE graph.follows (
  follower_id  uuid NOT NULL,
  followee_id  uuid NOT NULL CHECK (followee_id <> follower_id),
  -- Position for cursors: strictly increasing, so paging while others follow has no gaps or repeats.
  seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON graph.follows (followee_id, seq DESC);
CREATE INDEX follows_follower ON graph.follows (follower_id, seq DESC);

CREATE TABLE graph.blocks (
  blocker_id   uuid NOT NULL,
  blocked_id   uuid NOT NULL CHECK (blocked_id <> blocker_id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON graph.blocks (blocked_id, blocker_id);

CREATE TABLE graph.mutes (
  muter_id     uuid NOT NULL,
  muted_id     uuid NOT NULL CHECK (muted_id <> muter_id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (muter_id, muted_id)
);

-- Exact counts, changed in the transaction of the follow row they count.
CREATE TABLE graph.counts (
  user_id          uuid PRIMARY KEY,
  follower_count   integer NOT NULL DEFAULT 0 CHECK (follower_count >= 0),
  following_count  integer NOT NULL DEFAULT 0 CHECK (following_count >= 0)
);
