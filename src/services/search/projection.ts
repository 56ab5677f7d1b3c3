/**
 * Writes of the search projection, shared by the event consumer and the
 * rebuild (`nova search reindex`). Every write sets the full state of what it
 * touches (a user's profile, a post's text and hashtags, a block), so applying
 * an event twice, or over a state a rebuild read later, converges to the
 * source's state; hashtag counts move only by the post_hashtags rows actually
 * added or removed, so they never count twice. This is the PostgreSQL index
 * backend (`SearchIndex`, below); the consumer (consumers.ts) turns events into
 * these writes.
 */
import { type Kysely, sql } from "kysely";

type Db = Kysely<unknown>;

export interface UserDoc {
  userId: string;
  username: string;
  displayName: string;
  createdAt: string;
}

export interface PostDoc {
  postId: string;
  authorId: string;
  text: string;
  hashtags: string[];
  createdAt: string;
  /** A text search configuration (validated against LANGUAGES or the default). */
  language: string;
}

export async function writeUsers(db: Db, users: UserDoc[]): Promise<void> {
  if (users.length === 0) return;
  await sql`INSERT INTO search.users AS u (user_id, username, display_name, created_at)
    SELECT * FROM unnest(${users.map((u) => u.userId)}::uuid[], ${users.map((u) => u.username)}::text[],
      ${users.map((u) => u.displayName)}::text[], ${users.map((u) => u.createdAt)}::timestamptz[])
    ON CONFLICT (user_id) DO UPDATE SET username = EXCLUDED.username, display_name = EXCLUDED.display_name,
      created_at = EXCLUDED.created_at, touched_at = now()`.execute(db);
}

/** Moves hashtag counts by the rows added (+1) and removed (-1); drops tags no live post carries. */
async function countTags(db: Db, added: string[], removed: string[]): Promise<void> {
  const d = new Map<string, number>();
  for (const t of added) d.set(t, (d.get(t) ?? 0) + 1);
  for (const t of removed) d.set(t, (d.get(t) ?? 0) - 1);
  // Sorted, so concurrent writers lock tag rows in one order.
  const moved = [...d].filter(([, n]) => n !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const up = moved.filter(([, n]) => n > 0);
  const down = moved.filter(([, n]) => n < 0);
  if (up.length)
    await sql`INSERT INTO search.hashtags AS h (tag, post_count)
      SELECT * FROM unnest(${up.map(([t]) => t)}::text[], ${up.map(([, n]) => n)}::int[])
      ON CONFLICT (tag) DO UPDATE SET post_count = h.post_count + EXCLUDED.post_count`.execute(db);
  if (down.length) {
    await sql`UPDATE search.hashtags h SET post_count = h.post_count + d.n
      FROM unnest(${down.map(([t]) => t)}::text[], ${down.map(([, n]) => n)}::int[]) AS d(tag, n)
      WHERE h.tag = d.tag`.execute(db);
    await sql`DELETE FROM search.hashtags WHERE tag = ANY(${down.map(([t]) => t)}::text[]) AND post_count = 0`.execute(
      db,
    );
  }
}

/** Upserts posts and sets their hashtags to exactly `hashtags`. */
export async function writePosts(db: Db, posts: PostDoc[]): Promise<void> {
  if (posts.length === 0) return;
  await sql`INSERT INTO search.posts AS p (post_id, author_id, text, language, created_at)
    SELECT * FROM unnest(${posts.map((p) => p.postId)}::uuid[], ${posts.map((p) => p.authorId)}::uuid[],
      ${posts.map((p) => p.text)}::text[], ${posts.map((p) => p.language)}::regconfig[],
      ${posts.map((p) => p.createdAt)}::timestamptz[])
    ON CONFLICT (post_id) DO UPDATE SET author_id = EXCLUDED.author_id, text = EXCLUDED.text,
      language = EXCLUDED.language, created_at = EXCLUDED.created_at, touched_at = now()`.execute(db);
  const want = posts.flatMap((p) => [...new Set(p.hashtags)].map((tag) => ({ ...p, tag })));
  const ids = posts.map((p) => p.postId);
  const gone = await sql<{ tag: string }>`DELETE FROM search.post_hashtags ph
    WHERE ph.post_id = ANY(${ids}::uuid[])
      AND NOT EXISTS (SELECT 1 FROM unnest(${want.map((w) => w.postId)}::uuid[], ${want.map((w) => w.tag)}::text[]) AS w(post_id, tag)
                      WHERE w.post_id = ph.post_id AND w.tag = ph.tag)
    RETURNING ph.tag`.execute(db);
  // author and time of a post never change: a row already there stays as it is.
  const added = want.length
    ? await sql<{ tag: string }>`INSERT INTO search.post_hashtags (tag, post_id, author_id, created_at)
        SELECT * FROM unnest(${want.map((w) => w.tag)}::text[], ${want.map((w) => w.postId)}::uuid[],
          ${want.map((w) => w.authorId)}::uuid[], ${want.map((w) => w.createdAt)}::timestamptz[])
        ON CONFLICT (tag, post_id) DO NOTHING RETURNING tag`.execute(db)
    : { rows: [] as { tag: string }[] };
  await countTags(
    db,
    added.rows.map((r) => r.tag),
    gone.rows.map((r) => r.tag),
  );
}

/** Sets the text and hashtags of a post already in the projection (an edit of an unknown post is ignored). */
export async function editPost(db: Db, postId: string, text: string, hashtags: string[]): Promise<void> {
  const r = await sql<{
    author_id: string;
    created_at: string;
    language: string;
  }>`SELECT author_id::text AS author_id, to_json(created_at) #>> '{}' AS created_at, language::text AS language
    FROM search.posts WHERE post_id = ${postId}::uuid FOR UPDATE`.execute(db);
  const p = r.rows[0];
  if (!p) return;
  await writePosts(db, [
    { postId, authorId: p.author_id, text, hashtags, createdAt: p.created_at, language: p.language },
  ]);
}

export async function removePosts(db: Db, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const gone = await sql<{ tag: string }>`DELETE FROM search.post_hashtags WHERE post_id = ANY(${ids}::uuid[])
    RETURNING tag`.execute(db);
  await countTags(
    db,
    [],
    gone.rows.map((r) => r.tag),
  );
  const r = await sql`DELETE FROM search.posts WHERE post_id = ANY(${ids}::uuid[])`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

export async function writeBlocks(db: Db, blocks: { blockerId: string; blockedId: string }[]): Promise<void> {
  if (blocks.length === 0) return;
  await sql`INSERT INTO search.blocks (blocker_id, blocked_id)
    SELECT * FROM unnest(${blocks.map((b) => b.blockerId)}::uuid[], ${blocks.map((b) => b.blockedId)}::uuid[])
    ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET touched_at = now()`.execute(db);
}

export async function removeBlock(db: Db, blockerId: string, blockedId: string): Promise<void> {
  await sql`DELETE FROM search.blocks WHERE blocker_id = ${blockerId}::uuid AND blocked_id = ${blockedId}::uuid`.execute(
    db,
  );
}

/** After a rebuild: removes what the scan did not touch (rows last written before `since`). */
export async function sweep(db: Kysely<unknown>, since: string): Promise<number> {
  let removed = 0;
  for (;;) {
    const r = await sql<{ id: string }>`SELECT post_id::text AS id FROM search.posts
      WHERE touched_at < ${since}::timestamptz LIMIT 1000`.execute(db);
    if (r.rows.length === 0) break;
    removed += await db.transaction().execute((trx) =>
      removePosts(
        trx,
        r.rows.map((x) => x.id),
      ),
    );
  }
  const u = await sql`DELETE FROM search.users WHERE touched_at < ${since}::timestamptz`.execute(db);
  const b = await sql`DELETE FROM search.blocks WHERE touched_at < ${since}::timestamptz`.execute(db);
  return removed + Number(u.numAffectedRows ?? 0) + Number(b.numAffectedRows ?? 0);
}

/**
 * The seam between the search module and where its index lives. The module keeps its bookkeeping in
 * PostgreSQL whatever the backend (processed_events, the rebuild's job, state and parked events), and
 * writes documents through this interface, inside the consumer's transaction `db`. PostgreSQL (this
 * file) is the default; an OpenSearch backend would implement the same writes as idempotent upserts
 * and deletes keyed by id (ignoring `db`), with the read RPCs (service.ts) as its query side.
 */
export interface SearchIndex {
  readonly kind: string;
  writeUsers(db: Db, users: UserDoc[]): Promise<void>;
  writePosts(db: Db, posts: PostDoc[]): Promise<void>;
  editPost(db: Db, postId: string, text: string, hashtags: string[]): Promise<void>;
  /** Returns how many posts were removed. */
  removePosts(db: Db, ids: string[]): Promise<number>;
  writeBlocks(db: Db, blocks: { blockerId: string; blockedId: string }[]): Promise<void>;
  removeBlock(db: Db, blockerId: string, blockedId: string): Promise<void>;
  sweep(db: Kysely<unknown>, since: string): Promise<number>;
}

export const postgresIndex: SearchIndex = {
  kind: "postgres",
  writeUsers,
  writePosts,
  editPost,
  removePosts,
  writeBlocks,
  removeBlock,
  sweep,
};

/**
 * Deletes the search documents of an erased user (identity's AccountErased): their profile, their
 * posts (the hashtags' counts moved as a removed post moves them), their blocks either way, and any
 * buffered event of a reindex that names them. Idempotent.
 */
export async function eraseDocuments(db: Db, userId: string): Promise<void> {
  const posts = await sql<{ id: string }>`SELECT post_id::text AS id FROM search.posts
    WHERE author_id = ${userId}::uuid`.execute(db);
  await removePosts(
    db,
    posts.rows.map((r) => r.id),
  );
  await sql`DELETE FROM search.users WHERE user_id = ${userId}::uuid`.execute(db);
  await sql`DELETE FROM search.blocks WHERE blocker_id = ${userId}::uuid OR blocked_id = ${userId}::uuid`.execute(db);
  await sql`DELETE FROM search.reindex_buffer WHERE envelope::text LIKE ${`%${userId}%`}`.execute(db);
}
