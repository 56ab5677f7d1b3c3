/**
 * The search module's SQL: the read queries behind the RPCs (full text, pg_trgm, the blocks projection
 * at read time) and the bookkeeping of the consumer and the rebuild (reindex_state, the parked events,
 * the jobs, the DLQ). The document writes are the PostgreSQL index backend's (projection.ts).
 *
 * The read queries stay hand-written SQL: their plans are tuned (MATERIALIZED candidates, btree order
 * by `USING ~<~`, unnamed statements planned per call), which the query builder cannot express.
 */
import { type Kysely, type RawBuilder, type Selectable, sql, type Transaction } from "kysely";
import { PLAN_EACH_CALL } from "../../platform/db/pool.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { histogram } from "../../platform/observability/metrics.ts";
import { uuidv7 } from "../../platform/validate.ts";

/** The projection's tables (schema `search`, migrations/), as node-postgres reads them. */
export interface SearchTables {
  "search.users": {
    user_id: string;
    username: string;
    display_name: string;
    created_at: Date;
    /** Generated: the folded display name. */
    name_fold: string;
    /** Generated: the folded username and display name (trigram index). */
    doc: string;
    touched_at: Date;
  };
  "search.posts": {
    post_id: string;
    author_id: string;
    text: string;
    language: string;
    created_at: Date;
    /** Generated: the weighted tsvector of the text. */
    tsv: string;
    touched_at: Date;
  };
  "search.post_hashtags": { tag: string; post_id: string; author_id: string; created_at: Date };
  "search.hashtags": { tag: string; post_count: number };
  "search.blocks": { blocker_id: string; blocked_id: string; touched_at: Date };
  "search.reindex_jobs": {
    id: string;
    state: "requested" | "running" | "done" | "failed";
    phase: string;
    done: string;
    total: string;
    summary: unknown;
    error: string | null;
    requested_at: Date;
    started_at: Date | null;
    heartbeat_at: Date | null;
    finished_at: Date | null;
  };
  "search.reindex_state": { only_row: boolean; job_id: string | null };
  "search.reindex_buffer": { seq: string; envelope: unknown };
}

type Db = Kysely<unknown> | Transaction<unknown>;
type Hashtag = Selectable<SearchTables["search.hashtags"]>;

const searchSeconds = histogram("nova_search_query_seconds", "Search query time in the database, by kind", ["kind"]);

/** Runs a query and observes its time. */
export async function timed<T>(kind: string, fn: () => Promise<T>): Promise<T> {
  const end = searchSeconds.startTimer({ kind });
  try {
    return await fn();
  } finally {
    end();
  }
}

/** In SQL, the LIKE pattern of the strings that start with `text` (prefixPattern's escapes; ESCAPE '\\'). */
export function likePrefix(text: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`(replace(replace(replace(${text}, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')`;
}

/** Ids the viewer must not see: users they block and users who block them. */
function hiddenFor(viewer: string | undefined) {
  return viewer
    ? sql`(SELECT blocked_id FROM search.blocks WHERE blocker_id = ${viewer}::uuid
           UNION ALL SELECT blocker_id FROM search.blocks WHERE blocked_id = ${viewer}::uuid)`
    : sql`(SELECT NULL::uuid WHERE false)`;
}

/** `text` folded as the stored columns are (lower case, no accents). */
export async function fold(db: Db, text: string): Promise<string> {
  return (await sql<{ f: string }>`SELECT search.fold(${text}) AS f`.execute(db)).rows[0]?.f ?? "";
}

export interface UserMatch {
  id: string;
  tier: number;
  sim: number;
  username: string;
}

/** Users matching `q`: exact, then prefixes, then similar names; `after` is the last row's (tier, sim, username, id). */
export async function searchUsersQuery(
  db: Db,
  a: {
    q: string;
    viewer: string | undefined;
    fuzzyThreshold: number;
    after: [number, number, string, string] | undefined;
    limit: number;
  },
): Promise<UserMatch[]> {
  const { after } = a;
  // The fold (lower case, no accents) is computed in SQL, like the stored columns, and so is its LIKE
  // pattern (prefixPattern's escapes): one round trip; each (unnamed, custom) plan folds both to constants,
  // which the btree prefix conditions need.
  const f = sql`search.fold(${a.q}::text)`;
  const prefix = likePrefix(f);
  const wordPrefix = sql`('% ' || ${prefix})`;
  const r = await sql<UserMatch>`${sql.raw(PLAN_EACH_CALL)}
    -- Candidates first (indexes: prefix by btree, similar by GiST nearest neighbours), then scores for
    -- those only: MATERIALIZED keeps the planner from scoring every user. The prefix matches are taken in
    -- the order of their text_pattern_ops index (USING ~<~: byte order), so a short prefix that matches
    -- everyone reads 200 index entries instead of sorting every user; the candidates carry the columns
    -- the scores need, so no join back to the table.
    WITH cand AS MATERIALIZED (
      (SELECT user_id, username, name_fold, doc FROM search.users WHERE username LIKE ${prefix} ESCAPE '\\'
        ORDER BY username USING ~<~ LIMIT 200)
      UNION
      (SELECT user_id, username, name_fold, doc FROM search.users WHERE name_fold LIKE ${prefix} ESCAPE '\\'
        ORDER BY name_fold USING ~<~ LIMIT 200)
      UNION
      (SELECT user_id, username, name_fold, doc FROM search.users ORDER BY ${f} <<-> doc LIMIT 50)
    ), scored AS MATERIALIZED (
      SELECT u.user_id, u.username,
        CASE WHEN u.username = ${f} OR u.name_fold = ${f} THEN 0
             WHEN u.username LIKE ${prefix} ESCAPE '\\' OR u.name_fold LIKE ${prefix} ESCAPE '\\'
               OR u.name_fold LIKE ${wordPrefix} ESCAPE '\\' THEN 1
             ELSE 2 END AS tier,
        greatest(similarity(${f}, u.username), word_similarity(${f}, u.doc))::float8 AS sim
      FROM cand u
    )
    SELECT user_id::text AS id, tier, sim, username FROM scored
    WHERE (tier < 2 OR sim >= ${a.fuzzyThreshold}) AND user_id NOT IN ${hiddenFor(a.viewer)}
      ${after ? sql`AND (tier, -sim, username, user_id) > (${after[0]}, ${-after[1]}::float8, ${after[2]}, ${after[3]}::uuid)` : sql``}
    ORDER BY tier, sim DESC, username, user_id LIMIT ${a.limit + 1}`.execute(db);
  return r.rows;
}

export interface PostMatch {
  id: string;
  score: number;
  created_at: string;
}

/**
 * Posts matching `q` in the text search configuration `config`: the newest `candidates` matches no newer
 * than `asOf`, ranked by ts_rank times a time decay from `asOf`; `after` is the last row's (score, createdAt, id).
 */
export async function searchPostsQuery(
  db: Db,
  a: {
    q: string;
    config: string;
    viewer: string | undefined;
    asOf: string;
    candidates: number;
    recentScan: number;
    after: [number, string, string] | undefined;
    limit: number;
  },
): Promise<PostMatch[]> {
  const { after, asOf } = a;
  // The query is written inline (not in a CTE): statements go unnamed, planned with their parameters, so
  // the planner folds it to a constant (evaluated once, never per row) and estimates its selectivity.
  const tsq = sql`(websearch_to_tsquery(${a.config}::regconfig, search.fold(${a.q}))
    || websearch_to_tsquery('simple'::regconfig, search.fold(${a.q})))`;
  const n = a.candidates;
  const k = a.recentScan;
  const r = await sql<PostMatch>`${sql.raw(PLAN_EACH_CALL)}
    -- The candidates are the newest n matches (visible to the viewer, not newer than asOf), found in one of
    -- two ways; the second runs only when the first did not settle it (a one-time filter on its count):
    -- 1. recent: the matches among the k newest posts, by a btree-ordered scan (posts_recent) that stops at
    --    the n-th; a frequent word (a stop word of 'simple') settles it after about n / frequency rows.
    -- 2. older: fewer than n of them: every match (the GIN index for a rare word), the newest n kept.
    -- The planner may pick any plan for 2: without an ORDER BY ... LIMIT it has no reason to walk
    -- posts_recent hoping for matches that are not there.
    WITH hidden (id) AS MATERIALIZED ${hiddenFor(a.viewer)},
    recent AS MATERIALIZED (
      SELECT post_id, created_at, tsv FROM (
        SELECT post_id, author_id, created_at, tsv FROM search.posts
        WHERE created_at <= ${asOf}::timestamptz
        ORDER BY created_at DESC, post_id DESC LIMIT ${k}
      ) newest
      WHERE tsv @@ ${tsq} AND author_id NOT IN (SELECT id FROM hidden)
      ORDER BY created_at DESC, post_id DESC LIMIT ${n}
    ), older AS MATERIALIZED (
      SELECT post_id, created_at, tsv FROM search.posts
      WHERE (SELECT count(*) FROM recent) < ${n}
        AND tsv @@ ${tsq} AND created_at <= ${asOf}::timestamptz AND author_id NOT IN (SELECT id FROM hidden)
    ), cand AS (
      (SELECT post_id, created_at, tsv FROM recent WHERE (SELECT count(*) FROM recent) >= ${n})
      UNION ALL
      (SELECT post_id, created_at, tsv FROM older ORDER BY created_at DESC, post_id DESC LIMIT ${n})
    ), scored AS (
      SELECT post_id, created_at,
        (ts_rank(tsv, ${tsq}, 32)
          / (1 + extract(epoch FROM ${asOf}::timestamptz - created_at)::float8 / 604800))::float8 AS score
      FROM cand
    )
    SELECT post_id::text AS id, score, to_json(created_at) #>> '{}' AS created_at FROM scored
    ${after ? sql`WHERE (score, created_at, post_id) < (${after[0]}::float8, ${after[1]}::timestamptz, ${after[2]}::uuid)` : sql``}
    ORDER BY score DESC, created_at DESC, post_id DESC LIMIT ${a.limit + 1}`.execute(db);
  return r.rows;
}

export type HashtagMatch = Hashtag & { tier: number };

/** Hashtags matching the folded `f`: exact, prefix (busiest first), similar; `after` is (tier, postCount, tag). */
export async function searchHashtagsQuery(
  db: Db,
  a: { f: string; prefix: string; fuzzyThreshold: number; after: [number, number, string] | undefined; limit: number },
): Promise<HashtagMatch[]> {
  const { f, prefix, after } = a;
  const r = await sql<HashtagMatch>`${sql.raw(PLAN_EACH_CALL)}
    WITH cand AS MATERIALIZED (
      (SELECT tag FROM search.hashtags WHERE tag LIKE ${prefix} ESCAPE '\\' ORDER BY post_count DESC, tag LIMIT 200)
      UNION
      (SELECT tag FROM search.hashtags ORDER BY tag <-> ${f} LIMIT 50)
    ), scored AS MATERIALIZED (
      SELECT h.tag, h.post_count,
        CASE WHEN h.tag = ${f} THEN 0 WHEN h.tag LIKE ${prefix} ESCAPE '\\' THEN 1 ELSE 2 END AS tier,
        similarity(h.tag, ${f})::float8 AS sim
      FROM cand JOIN search.hashtags h USING (tag)
    )
    SELECT tag, tier, post_count FROM scored
    WHERE (tier < 2 OR sim >= ${a.fuzzyThreshold})
      ${after ? sql`AND (tier, -post_count, tag) > (${after[0]}, ${-after[1]}, ${after[2]})` : sql``}
    ORDER BY tier, post_count DESC, tag LIMIT ${a.limit + 1}`.execute(db);
  return r.rows;
}

/** The posts carrying `tag`, newest first by post id (UUIDv7: time order), after the post id `after`. */
export async function postsByHashtagQuery(
  db: Db,
  a: { tag: string; viewer: string | undefined; after: string | undefined; limit: number },
): Promise<{ id: string }[]> {
  const r = await sql<{ id: string }>`SELECT post_id::text AS id FROM search.post_hashtags
    WHERE tag = ${a.tag} AND author_id NOT IN ${hiddenFor(a.viewer)}
      ${a.after ? sql`AND post_id < ${a.after}::uuid` : sql``}
    ORDER BY post_id DESC LIMIT ${a.limit + 1}`.execute(db);
  return r.rows;
}

/** Users whose username or display name starts with the LIKE pattern `prefix`; exact (`f`), then shorter. */
export async function suggestUsersQuery(
  db: Db,
  a: { f: string; prefix: string; viewer: string | undefined; limit: number },
): Promise<{ id: string; username: string }[]> {
  const { prefix, limit } = a;
  const r = await sql<{ id: string; username: string }>`
    SELECT user_id::text AS id, username FROM (
      (SELECT user_id, username FROM search.users WHERE username LIKE ${prefix} ESCAPE '\\'
        ORDER BY length(username), username LIMIT ${limit * 2})
      UNION
      (SELECT user_id, username FROM search.users WHERE name_fold LIKE ${prefix} ESCAPE '\\'
        ORDER BY length(name_fold), name_fold LIMIT ${limit * 2})
    ) c WHERE user_id NOT IN ${hiddenFor(a.viewer)}
    ORDER BY username = ${a.f} DESC, username LIKE ${prefix} ESCAPE '\\' DESC, length(username), username
    LIMIT ${limit}`.execute(db);
  return r.rows;
}

/** Hashtags starting with the LIKE pattern `prefix`, busiest first. */
export async function suggestTagsQuery(db: Db, prefix: string, limit: number): Promise<Pick<Hashtag, "tag">[]> {
  const r = await sql<Pick<Hashtag, "tag">>`SELECT tag FROM search.hashtags WHERE tag LIKE ${prefix} ESCAPE '\\'
    ORDER BY post_count DESC, tag LIMIT ${limit}`.execute(db);
  return r.rows;
}

/** Hashtags of the last 24 hours by decayed use, one use per author and tag (the newest counts). */
export async function trendingQuery(
  db: Db,
  halfLifeHours: number,
  limit: number,
): Promise<{ tag: string; score: number; posts: number }[]> {
  const r = await sql<{ tag: string; score: number; posts: number }>`
    SELECT tag, sum(w)::float8 AS score, sum(n)::int AS posts FROM (
      SELECT tag, author_id, count(*) AS n,
        max(power(0.5, extract(epoch FROM now() - created_at)::float8 / ${halfLifeHours * 3600})) AS w
      FROM search.post_hashtags
      WHERE created_at > now() - interval '24 hours' AND created_at <= now()
      GROUP BY tag, author_id
    ) per_author
    GROUP BY tag ORDER BY score DESC, tag LIMIT ${limit}`.execute(db);
  return r.rows;
}

// ---- The consumer's and the rebuild's bookkeeping (see reindex.ts for the hand-over protocol).

/** The running rebuild's id, if any; read FOR SHARE so a switch waits for this transaction. */
export async function parkingJob(trx: Transaction<unknown>): Promise<string | null> {
  const r = await sql<{ job_id: string | null }>`SELECT job_id::text AS job_id FROM search.reindex_state
    FOR SHARE`.execute(trx);
  return r.rows[0]?.job_id ?? null;
}

/** Parks events for the rebuild to replay, in their order. */
export async function park(trx: Transaction<unknown>, events: Envelope[]): Promise<void> {
  await sql`INSERT INTO search.reindex_buffer (envelope)
    SELECT e FROM unnest(${events.map((e) => JSON.stringify(e))}::jsonb[]) WITH ORDINALITY AS x(e, n) ORDER BY n`.execute(
    trx,
  );
}

/**
 * The oldest parked events, in the order they were parked. The key is ordered as the column: the text
 * alias `seq` in ORDER BY would sort '10' before '9', replaying out of order across a power of ten.
 */
export async function parkedBatch(db: Db, limit: number): Promise<{ seq: string; envelope: unknown }[]> {
  const r = await sql<{ seq: string; envelope: unknown }>`SELECT b.seq::text AS seq, b.envelope
    FROM search.reindex_buffer b ORDER BY b.seq LIMIT ${limit}`.execute(db);
  return r.rows;
}

export async function dropParked(trx: Transaction<unknown>, upToSeq: string): Promise<void> {
  await sql`DELETE FROM search.reindex_buffer WHERE seq <= ${upToSeq}::bigint`.execute(trx);
}

/** Parks an event that failed to replay in the consumer's DLQ, with its error. */
export async function deadLetter(
  trx: Transaction<unknown>,
  a: { eventId: string | null; envelope: unknown; error: string },
): Promise<void> {
  await sql`INSERT INTO search.dlq (id, consumer, topic, event_id, envelope, error, attempts)
    VALUES (${uuidv7()}::uuid, 'search.index', 'search.reindex_buffer', ${a.eventId}::uuid,
      ${JSON.stringify(a.envelope)}::jsonb, ${a.error}, 1)`.execute(trx);
}

/** Takes the state row's lock (the consumer's FOR SHARE waits on it). */
export async function lockState(trx: Transaction<unknown>): Promise<void> {
  await sql`SELECT 1 FROM search.reindex_state FOR UPDATE`.execute(trx);
}

/** Sets or clears (null) the job the consumer parks events for. */
export async function setParkingJob(trx: Transaction<unknown>, id: string | null): Promise<void> {
  if (id === null) await sql`UPDATE search.reindex_state SET job_id = NULL`.execute(trx);
  else await sql`UPDATE search.reindex_state SET job_id = ${id}::uuid`.execute(trx);
}

/** Marks the job started (once) and beating; returns when it first started. */
export async function startJob(trx: Transaction<unknown>, id: string): Promise<string> {
  const r = await sql<{ started_at: string }>`UPDATE search.reindex_jobs
    SET started_at = coalesce(started_at, clock_timestamp()), heartbeat_at = now()
    WHERE id = ${id}::uuid RETURNING to_json(started_at) #>> '{}' AS started_at`.execute(trx);
  return r.rows[0]?.started_at as string;
}

export async function jobProgress(db: Db, id: string, phase: string, done: number, total: number): Promise<void> {
  await sql`UPDATE search.reindex_jobs SET phase = ${phase}, done = ${done}, total = ${total}, heartbeat_at = now()
    WHERE id = ${id}::uuid`.execute(db);
}

/** Keeps a phase's final count on the job (summary.phases). */
export async function jobPhaseDone(db: Db, id: string, phase: string, done: number): Promise<void> {
  await sql`UPDATE search.reindex_jobs SET summary = jsonb_set(coalesce(summary, '{}'::jsonb), '{phases}',
      coalesce(summary->'phases', '{}'::jsonb) || jsonb_build_object(${phase}::text, ${done}::bigint))
    WHERE id = ${id}::uuid`.execute(db);
}

export async function jobDone(db: Db, id: string, summary: Record<string, number>): Promise<void> {
  await sql`UPDATE search.reindex_jobs SET state = 'done', phase = 'done', finished_at = now(),
    summary = coalesce(summary, '{}'::jsonb) || ${JSON.stringify(summary)}::jsonb WHERE id = ${id}::uuid`.execute(db);
}

export async function jobFailed(db: Db, id: string, error: string, replayed: number): Promise<void> {
  await sql`UPDATE search.reindex_jobs SET state = 'failed', finished_at = now(), error = ${error},
    summary = ${JSON.stringify({ replayed })}::jsonb WHERE id = ${id}::uuid`.execute(db);
}

/** Leaves a running job for the next process to take over at once (its heartbeat made stale). */
export async function jobAbandoned(db: Db, id: string): Promise<void> {
  await sql`UPDATE search.reindex_jobs SET heartbeat_at = '-infinity' WHERE id = ${id}::uuid`.execute(db);
}

/** Takes a requested job, or one whose process stopped beating for `staleS` seconds. */
export async function claimJob(db: Db, staleS: number): Promise<string | undefined> {
  const r = await sql<{ id: string }>`UPDATE search.reindex_jobs SET state = 'running', heartbeat_at = now()
    WHERE id = (SELECT id FROM search.reindex_jobs
                 WHERE state = 'requested' OR (state = 'running' AND heartbeat_at < now() - make_interval(secs => ${staleS}))
                 ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id::text AS id`.execute(db);
  return r.rows[0]?.id;
}
