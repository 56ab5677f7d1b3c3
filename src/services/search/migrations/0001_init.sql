-- search: a read-only projection of users, posts, hashtags and blocks, built from the identity,
-- graph and content events (never from their tables) and rebuilt from their RPCs by
-- `nova search reindex`.

-- pg_trgm (similarity, typo tolerance) and unaccent are database-wide: an extension lives in one
-- schema of a database, so they go to public, created by whichever migration runs first (IF NOT
-- EXISTS, under the migrator's advisory lock, so concurrent runs of several modules or pods do not
-- race). Both are trusted extensions: the database owner may create them. Installed elsewhere by a
-- DBA, they must be moved to public first (the check below says so instead of failing later).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
DO $$
DECLARE
  misplaced text;
BEGIN
  SELECT string_agg(format('%s (in %s)', extname, extnamespace::regnamespace), ', ') INTO misplaced
    FROM pg_extension WHERE extname IN ('pg_trgm', 'unaccent') AND extnamespace <> 'public'::regnamespace;
  IF misplaced IS NOT NULL THEN
    RAISE EXCEPTION 'search needs pg_trgm and unaccent in schema public; found %: ALTER EXTENSION ... SET SCHEMA public', misplaced;
  END IF;
END $$;

-- Lower case without accents: the form names and texts are compared in. unaccent() itself is only
-- STABLE (its dictionary could change); naming the dictionary makes the result fixed, so indexes and
-- generated columns may use it. The body is bound when created (SQL-standard RETURN).
CREATE FUNCTION search.fold(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  RETURN lower(public.unaccent('public.unaccent'::regdictionary, t));

-- Users (UserRegistered / ProfileUpdated).
CREATE TABLE search.users (
  user_id       uuid PRIMARY KEY,
  username      text NOT NULL,
  display_name  text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL,
  name_fold     text GENERATED ALWAYS AS (search.fold(display_name)) STORED,
  doc           text GENERATED ALWAYS AS (search.fold(username || ' ' || display_name)) STORED,
  -- Last written (by an event or a reindex): a reindex drops what it did not see.
  touched_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_username ON search.users (username text_pattern_ops);
CREATE INDEX users_name ON search.users (name_fold text_pattern_ops);
CREATE INDEX users_doc_trgm ON search.users USING gist (doc gist_trgm_ops);

-- Live posts (PostCreated / PostEdited; PostDeleted and PostPurged remove them). The document is
-- the text stemmed in the post's language (weight A) plus its exact words (weight B, the 'simple'
-- configuration), so a query matches by stem in its language and by word in any.
CREATE TABLE search.posts (
  post_id     uuid PRIMARY KEY,
  author_id   uuid NOT NULL,
  text        text NOT NULL,
  language    regconfig NOT NULL,
  created_at  timestamptz NOT NULL,
  tsv         tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector(language, search.fold(text)), 'A') ||
                setweight(to_tsvector('simple'::regconfig, search.fold(text)), 'B')) STORED,
  touched_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posts_tsv ON search.posts USING gin (tsv);
CREATE INDEX posts_recent ON search.posts (created_at DESC, post_id DESC);

-- The hashtags of live posts; newest first per tag, and the last 24 hours for trending.
CREATE TABLE search.post_hashtags (
  tag         text NOT NULL,
  post_id     uuid NOT NULL,
  author_id   uuid NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (tag, post_id)
);
CREATE INDEX post_hashtags_post ON search.post_hashtags (post_id);
CREATE INDEX post_hashtags_recent ON search.post_hashtags (created_at);

-- Hashtags in use, with their live posts: changed by the rows of post_hashtags actually added or
-- removed, so applying an event twice (or over a reindexed state) never counts twice.
CREATE TABLE search.hashtags (
  tag         text PRIMARY KEY,
  post_count  integer NOT NULL CHECK (post_count >= 0)
);
CREATE INDEX hashtags_prefix ON search.hashtags (tag text_pattern_ops);
CREATE INDEX hashtags_trgm ON search.hashtags USING gist (tag gist_trgm_ops);

-- Blocks (Blocked / Unblocked), applied both ways at read time.
CREATE TABLE search.blocks (
  blocker_id  uuid NOT NULL,
  blocked_id  uuid NOT NULL,
  touched_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON search.blocks (blocked_id, blocker_id);

-- `nova search reindex` asks the running search module for a rebuild; the module reports here.
CREATE TABLE search.reindex_jobs (
  id            uuid PRIMARY KEY,
  state         text NOT NULL DEFAULT 'requested' CHECK (state IN ('requested', 'running', 'done', 'failed')),
  phase         text NOT NULL DEFAULT '',
  done          bigint NOT NULL DEFAULT 0,
  total         bigint NOT NULL DEFAULT 0,
  summary       jsonb,
  error         text,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  heartbeat_at  timestamptz,
  finished_at   timestamptz
);
-- One job at a time.
CREATE UNIQUE INDEX reindex_jobs_active ON search.reindex_jobs ((true)) WHERE state IN ('requested', 'running');

-- The hand-over between a rebuild and the event consumer: while job_id is set, the consumer parks
-- events in reindex_buffer instead of applying them; the job replays them after its scan and clears
-- job_id in the same transaction as the last replay. The consumer reads this row FOR SHARE, so the
-- switch waits for its open transactions and it never applies an event the job has not seen.
CREATE TABLE search.reindex_state (
  only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  job_id    uuid
);
INSERT INTO search.reindex_state DEFAULT VALUES;

CREATE TABLE search.reindex_buffer (
  seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  envelope  jsonb NOT NULL
);
