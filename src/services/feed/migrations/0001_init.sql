-- feed: projections built from the graph's and content's events (never their tables), the
-- Postgres timeline store (embedded mode, or no Redis), activity, and explore ranking.

-- Who follows whom (from Followed / Unfollowed).
CREATE TABLE feed.follows (
  follower_id  uuid NOT NULL,
  followee_id  uuid NOT NULL,
  PRIMARY KEY (followee_id, follower_id)
);
CREATE INDEX follows_follower ON feed.follows (follower_id, followee_id);

-- Follower counts per author: above the threshold an author is merged at read time.
CREATE TABLE feed.authors (
  author_id    uuid PRIMARY KEY,
  followers    integer NOT NULL DEFAULT 0 CHECK (followers >= 0)
);

-- Authors a viewer must not see (mutes one way; blocks both ways).
CREATE TABLE feed.hidden (
  viewer_id    uuid NOT NULL,
  author_id    uuid NOT NULL,
  reason       text NOT NULL CHECK (reason IN ('mute', 'block')),
  PRIMARY KEY (viewer_id, author_id, reason)
);

-- Posts (from PostCreated / PostDeleted / PostPurged) with engagement for explore.
CREATE TABLE feed.posts (
  post_id        uuid PRIMARY KEY,
  author_id      uuid NOT NULL,
  created_at     timestamptz NOT NULL,
  deleted        boolean NOT NULL DEFAULT false,
  like_count     integer NOT NULL DEFAULT 0,
  comment_count  integer NOT NULL DEFAULT 0,
  hot_rank       double precision NOT NULL DEFAULT 0
);
CREATE INDEX posts_author ON feed.posts (author_id, post_id DESC) WHERE NOT deleted;
CREATE INDEX posts_hot ON feed.posts (hot_rank DESC, post_id DESC) WHERE NOT deleted;
CREATE INDEX posts_recent ON feed.posts (created_at) WHERE NOT deleted;

-- The Postgres timeline store: capped per user by the trim job.
CREATE TABLE feed.timeline (
  user_id      uuid NOT NULL,
  post_id      uuid NOT NULL,
  author_id    uuid NOT NULL,
  PRIMARY KEY (user_id, post_id)
);
CREATE INDEX timeline_post ON feed.timeline (post_id);
CREATE INDEX timeline_author ON feed.timeline (user_id, author_id);

-- Timelines that exist (a missing one is rebuilt from feed.posts on read).
CREATE TABLE feed.timeline_built (
  user_id      uuid PRIMARY KEY,
  built_at     timestamptz NOT NULL DEFAULT now()
);

-- When each user last read their timeline; followers idle for FEED_INACTIVE_DAYS are skipped.
CREATE TABLE feed.activity (
  user_id      uuid PRIMARY KEY,
  last_seen_at timestamptz NOT NULL
);
CREATE INDEX activity_seen ON feed.activity (last_seen_at);

-- Lemmy's hot rank: engagement (likes + 2 x comments) with time decay.
CREATE FUNCTION feed.hot_rank(engagement integer, created timestamptz) RETURNS double precision
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT 10000 * log(greatest(1, engagement + 3)) /
         power(greatest(0, extract(epoch FROM (now() - created)) / 3600) + 2, 1.8)
$$;
