-- content: posts (with edit history), comments, likes, bookmarks and exact counters.
-- Deletes of user content are soft (deleted_at/deleted_by); the purge job removes them later.
CREATE TABLE content.posts (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  author_id    uuid NOT NULL,
  text         text NOT NULL CHECK (char_length(text) <= 2000),
  media        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(media) = 'array' AND jsonb_array_length(media) <= 10),
  hashtags     text[] NOT NULL DEFAULT '{}',
  mention_ids  uuid[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  edited_at    timestamptz,
  deleted_at   timestamptz,
  deleted_by   uuid
);
-- A user's posts, newest first (ids are UUIDv7, so id order is time order).
CREATE INDEX posts_author ON content.posts (author_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_deleted ON content.posts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX posts_hashtags ON content.posts USING gin (hashtags) WHERE deleted_at IS NULL;

CREATE TABLE content.post_edits (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  post_id      uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
  text         text NOT NULL,
  replaced_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_edits_post ON content.post_edits (post_id, id);

CREATE TABLE content.comments (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  post_id      uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
  author_id    uuid NOT NULL,
  parent_id    uuid REFERENCES content.comments (id) ON DELETE RESTRICT,
  text         text NOT NULL CHECK (char_length(text) <= 1000),
  like_count   integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz,
  deleted_by   uuid
);
CREATE INDEX comments_post ON content.comments (post_id, id) WHERE deleted_at IS NULL;
CREATE INDEX comments_parent ON content.comments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE content.post_likes (
  post_id      uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
  user_id      uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_user ON content.post_likes (user_id, post_id);

CREATE TABLE content.comment_likes (
  comment_id   uuid NOT NULL REFERENCES content.comments (id) ON DELETE RESTRICT,
  user_id      uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (comment_id, user_id)
);

CREATE TABLE content.bookmarks (
  user_id      uuid NOT NULL,
  post_id      uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, post_id)
);
CREATE INDEX bookmarks_user ON content.bookmarks (user_id, seq DESC);
CREATE INDEX bookmarks_post ON content.bookmarks (post_id);

-- Exact counters, changed in the same transaction as the row they count (the row lock serialises
-- concurrent likes of one post, so the count always equals the rows).
CREATE TABLE content.post_counts (
  post_id         uuid PRIMARY KEY REFERENCES content.posts (id) ON DELETE RESTRICT,
  like_count      integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
  comment_count   integer NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
  bookmark_count  integer NOT NULL DEFAULT 0 CHECK (bookmark_count >= 0)
);
