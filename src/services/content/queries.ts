/**
 * The content service's SQL, over its typed tables (schema `content`, migrations/0001_init.sql).
 * Functions take the writer, the reader or the caller's transaction; none decides who may do what
 * (the RPCs do), and none writes events (events.ts).
 */
import { create } from "@bufbuild/protobuf";
import type { ColumnType, Generated, Kysely, Transaction } from "kysely";
import { sql } from "kysely";
import { type PostCounts, PostCountsSchema } from "../../gen/nova/content/v1/content_pb.ts";
import type { AttachmentInput, MediaInput } from "./validation.ts";

/** The tables as node-postgres reads them (uuid as text, bigint as text, timestamptz as Date). */
export interface PostsTable {
  id: Generated<string>;
  author_id: string;
  text: string;
  media: ColumnType<MediaInput[], string, string>;
  attachments: ColumnType<AttachmentInput[], string, string>;
  sensitive: Generated<boolean>;
  content_warning: Generated<string>;
  hashtags: string[];
  mention_ids: string[];
  created_at: Generated<Date>;
  edited_at: Date | null;
  deleted_at: Date | null;
  deleted_by: string | null;
}

export interface PostEditsTable {
  id: Generated<string>;
  post_id: string;
  text: string;
  replaced_at: Generated<Date>;
}

export interface CommentsTable {
  id: Generated<string>;
  post_id: string;
  author_id: string;
  parent_id: string | null;
  text: string;
  like_count: Generated<number>;
  created_at: Generated<Date>;
  deleted_at: Date | null;
  deleted_by: string | null;
}

export interface PostLikesTable {
  post_id: string;
  user_id: string;
  /** bigint, read as text: the likers list's order. */
  seq: Generated<string>;
  created_at: Generated<Date>;
}

export interface CommentLikesTable {
  comment_id: string;
  user_id: string;
  created_at: Generated<Date>;
}

export interface BookmarksTable {
  user_id: string;
  post_id: string;
  seq: Generated<string>;
  created_at: Generated<Date>;
}

export interface PostCountsTable {
  post_id: string;
  like_count: Generated<number>;
  comment_count: Generated<number>;
  bookmark_count: Generated<number>;
}

export interface ContentTables {
  "content.posts": PostsTable;
  "content.post_edits": PostEditsTable;
  "content.comments": CommentsTable;
  "content.post_likes": PostLikesTable;
  "content.comment_likes": CommentLikesTable;
  "content.bookmarks": BookmarksTable;
  "content.post_counts": PostCountsTable;
}

export type ContentDb = Kysely<ContentTables>;
export type ContentTrx = Transaction<ContentTables>;

export interface PostRow {
  id: string;
  author_id: string;
  text: string;
  media: MediaInput[];
  /** Absent in rows cached before attachments existed. */
  attachments?: AttachmentInput[];
  sensitive?: boolean;
  /** Absent in rows cached before warnings existed. */
  content_warning?: string;
  hashtags: string[];
  mention_ids: string[];
  /** RFC 3339 (rows are cached as JSON). */
  created_at: string;
  edited_at: string | null;
}

export interface CommentRow {
  id: string;
  post_id: string;
  author_id: string;
  parent_id: string | null;
  text: string;
  like_count: number;
  created_at: Date;
}

/** A comment's columns, for the query builder's select (COMMENT_FIELDS) and raw SQL (COMMENT_COLUMNS). */
const COMMENT_FIELDS = [
  sql<string>`id::text`.as("id"),
  sql<string>`post_id::text`.as("post_id"),
  sql<string>`author_id::text`.as("author_id"),
  sql<string | null>`parent_id::text`.as("parent_id"),
  sql<string>`text`.as("text"),
  sql<number>`like_count`.as("like_count"),
  sql<Date>`created_at`.as("created_at"),
] as const;
const COMMENT_COLUMNS = sql.join(COMMENT_FIELDS);

/** A post's columns, the same two ways. */
const POST_FIELDS = [
  sql<string>`id::text`.as("id"),
  sql<string>`author_id::text`.as("author_id"),
  sql<string>`text`.as("text"),
  sql<MediaInput[]>`media`.as("media"),
  sql<AttachmentInput[]>`attachments`.as("attachments"),
  sql<boolean>`sensitive`.as("sensitive"),
  sql<string>`content_warning`.as("content_warning"),
  sql<string[]>`hashtags`.as("hashtags"),
  sql<string[]>`mention_ids::text[]`.as("mention_ids"),
  sql<string>`to_json(created_at) #>> '{}'`.as("created_at"),
  sql<string | null>`to_json(edited_at) #>> '{}'`.as("edited_at"),
] as const;
const POST_COLUMNS = sql.join(POST_FIELDS);

// Posts

/** Loads live posts by id (no visibility rules): the cacheable part of GetPosts. */
export async function loadPosts(db: ContentDb, ids: string[]): Promise<Map<string, PostRow>> {
  if (ids.length === 0) return new Map();
  const r = await sql<PostRow>`SELECT ${POST_COLUMNS} FROM content.posts
    WHERE id = ANY(${ids}::uuid[]) AND deleted_at IS NULL`.execute(db);
  return new Map(r.rows.map((p) => [p.id, p]));
}

export interface NewPost {
  authorId: string;
  text: string;
  media: MediaInput[];
  attachments?: AttachmentInput[];
  sensitive?: boolean;
  contentWarning?: string;
  hashtags: string[];
  mentionIds: string[];
}

/** Inserts a post and its (zero) counters row. */
export async function insertPost(trx: ContentTrx, p: NewPost): Promise<PostRow> {
  const r =
    await sql<PostRow>`INSERT INTO content.posts (author_id, text, media, attachments, sensitive, content_warning, hashtags, mention_ids)
    VALUES (${p.authorId}::uuid, ${p.text}, ${JSON.stringify(p.media)}::jsonb, ${JSON.stringify(p.attachments ?? [])}::jsonb,
      ${p.sensitive ?? false}, ${p.contentWarning ?? ""}, ${p.hashtags}::text[], ${p.mentionIds}::uuid[])
    RETURNING ${POST_COLUMNS}`.execute(trx);
  const row = r.rows[0] as PostRow;
  await sql`INSERT INTO content.post_counts (post_id) VALUES (${row.id}::uuid)`.execute(trx);
  return row;
}

/** The live post, locked for an edit. */
export async function lockPostForEdit(trx: ContentTrx, postId: string): Promise<PostRow | undefined> {
  const r = await sql<PostRow>`SELECT ${POST_COLUMNS} FROM content.posts
    WHERE id = ${postId}::uuid AND deleted_at IS NULL FOR UPDATE`.execute(trx);
  return r.rows[0];
}

/** Keeps the replaced text in the history and writes the new one. */
export async function replacePostText(
  trx: ContentTrx,
  postId: string,
  oldText: string,
  text: string,
  hashtags: string[],
): Promise<PostRow> {
  await sql`INSERT INTO content.post_edits (post_id, text) VALUES (${postId}::uuid, ${oldText})`.execute(trx);
  const r =
    await sql<PostRow>`UPDATE content.posts SET text = ${text}, hashtags = ${hashtags}::text[], edited_at = now()
    WHERE id = ${postId}::uuid RETURNING ${POST_COLUMNS}`.execute(trx);
  return r.rows[0] as PostRow;
}

/** Sets a post's warning and sensitive flag (the edit's caller decided them). */
export async function setPostWarning(
  trx: ContentTrx,
  postId: string,
  warning: string,
  sensitive: boolean,
): Promise<PostRow> {
  const r = await sql<PostRow>`UPDATE content.posts SET content_warning = ${warning}, sensitive = ${sensitive}
    WHERE id = ${postId}::uuid RETURNING ${POST_COLUMNS}`.execute(trx);
  return r.rows[0] as PostRow;
}

/** The live post's author, the post locked for a delete. */
export async function lockPostForDelete(trx: ContentTrx, postId: string): Promise<{ author_id: string } | undefined> {
  const r = await sql<{ author_id: string }>`SELECT author_id::text AS author_id FROM content.posts
    WHERE id = ${postId}::uuid AND deleted_at IS NULL FOR UPDATE`.execute(trx);
  return r.rows[0];
}

export async function softDeletePost(trx: ContentTrx, postId: string, by: string, reason = ""): Promise<void> {
  await sql`UPDATE content.posts SET deleted_at = now(), deleted_by = ${by}::uuid, deleted_reason = ${reason}
    WHERE id = ${postId}::uuid`.execute(trx);
}

/**
 * Marks a live post sensitive, with a new warning when one is given: its author, or undefined when there
 * is no live post; `changed` false when it was sensitive (with that warning) already.
 */
export async function markPostSensitive(
  trx: ContentTrx,
  postId: string,
  warning: string,
): Promise<{ author_id: string; changed: boolean } | undefined> {
  const r = await sql<{ author_id: string; was: boolean }>`UPDATE content.posts p SET sensitive = true,
      content_warning = CASE WHEN ${warning} = '' THEN old.warning ELSE ${warning} END
    FROM (SELECT id, sensitive AS was_sensitive, content_warning AS warning FROM content.posts
      WHERE id = ${postId}::uuid AND deleted_at IS NULL FOR UPDATE) old
    WHERE p.id = old.id
    RETURNING p.author_id::text AS author_id, old.was_sensitive AND (${warning} = '' OR old.warning = ${warning}) AS was`.execute(
    trx,
  );
  const row = r.rows[0];
  return row ? { author_id: row.author_id, changed: !row.was } : undefined;
}

/** Share-locks a live post (its likes, bookmarks and comments then count against a post that stays). */
export async function lockLivePost(trx: ContentTrx, postId: string): Promise<{ author_id: string } | undefined> {
  const r = await sql<{ author_id: string }>`SELECT p.author_id::text AS author_id FROM content.posts p
    WHERE p.id = ${postId}::uuid AND p.deleted_at IS NULL FOR SHARE`.execute(trx);
  return r.rows[0];
}

export async function listEdits(db: ContentDb, postId: string): Promise<{ text: string; replaced_at: Date }[]> {
  const r = await sql<{ text: string; replaced_at: Date }>`SELECT text, replaced_at FROM content.post_edits
    WHERE post_id = ${postId}::uuid ORDER BY id`.execute(db);
  return r.rows;
}

/** A user's live post ids, for keysetPage on `p.id`. */
export function userPostsQuery(db: ContentDb, userId: string) {
  return db
    .selectFrom("content.posts as p")
    .select("p.id")
    .where("p.author_id", "=", userId)
    .where("p.deleted_at", "is", null);
}

/** Every live post, for keysetPage on `content.posts.id`. */
export function scanPostsQuery(db: ContentDb) {
  return db.selectFrom("content.posts").select(POST_FIELDS).where("deleted_at", "is", null);
}

export async function countLivePosts(db: ContentDb): Promise<bigint> {
  const r = await sql<{ n: string }>`SELECT count(*) AS n FROM content.posts WHERE deleted_at IS NULL`.execute(db);
  return BigInt(r.rows[0]?.n ?? 0);
}

// Counters

/** A post's counters; zeros without a counters row. */
export function toCounts(
  postId: string,
  c?: { like_count: number; comment_count: number; bookmark_count: number },
): PostCounts {
  return create(PostCountsSchema, {
    postId,
    likeCount: c?.like_count ?? 0,
    commentCount: c?.comment_count ?? 0,
    bookmarkCount: c?.bookmark_count ?? 0,
  });
}

export async function loadCounts(db: ContentDb, ids: string[]): Promise<Map<string, PostCounts>> {
  if (ids.length === 0) return new Map();
  const r = await sql<{ post_id: string; like_count: number; comment_count: number; bookmark_count: number }>`
    SELECT post_id::text AS post_id, like_count, comment_count, bookmark_count
      FROM content.post_counts WHERE post_id = ANY(${ids}::uuid[])`.execute(db);
  return new Map(r.rows.map((c) => [c.post_id, toCounts(c.post_id, c)]));
}

/** The post's counters (zeros when it has no counters row). */
export async function countsOf(db: ContentDb, postId: string): Promise<PostCounts> {
  return (await loadCounts(db, [postId])).get(postId) ?? toCounts(postId);
}

export async function bumpCounts(
  trx: ContentTrx,
  postId: string,
  d: { likes?: number; comments?: number; bookmarks?: number },
): Promise<PostCounts> {
  const r = await sql<{ like_count: number; comment_count: number; bookmark_count: number }>`
    UPDATE content.post_counts SET
      like_count = like_count + ${d.likes ?? 0},
      comment_count = comment_count + ${d.comments ?? 0},
      bookmark_count = bookmark_count + ${d.bookmarks ?? 0}
    WHERE post_id = ${postId}::uuid RETURNING like_count, comment_count, bookmark_count`.execute(trx);
  return toCounts(postId, r.rows[0]);
}

// Likes and bookmarks

export type PostMark = "like" | "bookmark";

/** Sets (`on`) or clears the user's like or bookmark of a post; false when it already was so. */
export async function setPostMark(
  trx: ContentTrx,
  kind: PostMark,
  on: boolean,
  postId: string,
  userId: string,
): Promise<boolean> {
  const table = kind === "like" ? sql`content.post_likes` : sql`content.bookmarks`;
  const r = on
    ? await sql`INSERT INTO ${table} (post_id, user_id) VALUES (${postId}::uuid, ${userId}::uuid)
        ON CONFLICT DO NOTHING RETURNING post_id`.execute(trx)
    : await sql`DELETE FROM ${table} WHERE post_id = ${postId}::uuid AND user_id = ${userId}::uuid
        RETURNING post_id`.execute(trx);
  return r.rows.length > 0;
}

/** The user's bookmarks of live posts, for keysetPage on `b.seq`. */
export function bookmarksQuery(db: ContentDb, userId: string) {
  return db
    .selectFrom("content.bookmarks as b")
    .innerJoin("content.posts as p", (j) => j.onRef("p.id", "=", "b.post_id").on("p.deleted_at", "is", null))
    .select(["b.post_id", "b.seq"])
    .where("b.user_id", "=", userId);
}

/** The likers of a live post, for keysetPage on `l.seq`. */
export function likersQuery(db: ContentDb, postId: string) {
  return db
    .selectFrom("content.post_likes as l")
    .innerJoin("content.posts as p", (j) => j.onRef("p.id", "=", "l.post_id").on("p.deleted_at", "is", null))
    .select(["l.user_id", "l.seq"])
    .where("l.post_id", "=", postId);
}

/** Whether the user likes and bookmarks each post, in the order of `ids`. */
export async function viewerStates(
  db: ContentDb,
  userId: string,
  ids: string[],
): Promise<{ post_id: string; liked: boolean; bookmarked: boolean }[]> {
  const r = await sql<{ post_id: string; liked: boolean; bookmarked: boolean }>`
    SELECT x.id::text AS post_id,
           EXISTS (SELECT 1 FROM content.post_likes l WHERE l.post_id = x.id AND l.user_id = ${userId}::uuid) AS liked,
           EXISTS (SELECT 1 FROM content.bookmarks b WHERE b.post_id = x.id AND b.user_id = ${userId}::uuid) AS bookmarked
      FROM unnest(${ids}::uuid[]) AS x(id)`.execute(db);
  return r.rows;
}

// Comments

/** A live comment's post and parent. */
export async function liveComment(
  db: ContentDb,
  commentId: string,
): Promise<{ post_id: string; parent_id: string | null; author_id: string } | undefined> {
  const r = await sql<{ post_id: string; parent_id: string | null; author_id: string }>`SELECT post_id::text AS post_id,
    parent_id::text AS parent_id, author_id::text AS author_id
    FROM content.comments WHERE id = ${commentId}::uuid AND deleted_at IS NULL`.execute(db);
  return r.rows[0];
}

export interface NewComment {
  postId: string;
  authorId: string;
  parentId: string | null;
  text: string;
}

export async function insertComment(trx: ContentTrx, c: NewComment): Promise<CommentRow> {
  const r = await sql<CommentRow>`INSERT INTO content.comments (post_id, author_id, parent_id, text)
    VALUES (${c.postId}::uuid, ${c.authorId}::uuid, ${c.parentId}::uuid, ${c.text})
    RETURNING ${COMMENT_COLUMNS}`.execute(trx);
  return r.rows[0] as CommentRow;
}

/** A live comment's post, its author and the post's author, the comment locked for a delete. */
export async function lockCommentForDelete(
  trx: ContentTrx,
  commentId: string,
): Promise<{ post_id: string; author_id: string; post_author_id: string } | undefined> {
  const r = await sql<{ post_id: string; author_id: string; post_author_id: string }>`
    SELECT c.post_id::text AS post_id, c.author_id::text AS author_id, p.author_id::text AS post_author_id
      FROM content.comments c JOIN content.posts p ON p.id = c.post_id
     WHERE c.id = ${commentId}::uuid AND c.deleted_at IS NULL FOR UPDATE OF c`.execute(trx);
  return r.rows[0];
}

export async function softDeleteComment(trx: ContentTrx, commentId: string, by: string, reason = ""): Promise<void> {
  await sql`UPDATE content.comments SET deleted_at = now(), deleted_by = ${by}::uuid, deleted_reason = ${reason}
    WHERE id = ${commentId}::uuid`.execute(trx);
}

/** Live comments by id (any order; the caller orders them). */
export async function liveComments(db: ContentDb, ids: string[]): Promise<CommentRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("content.comments")
    .select(COMMENT_FIELDS)
    .where("id", "in", ids)
    .where("deleted_at", "is", null)
    .execute();
}

/** A post's live comments, for keysetPage on `content.comments.id`. */
export function commentsQuery(db: ContentDb, postId: string) {
  return db
    .selectFrom("content.comments")
    .select(COMMENT_FIELDS)
    .where("post_id", "=", postId)
    .where("deleted_at", "is", null);
}

/** Sets or clears the user's like of a comment and moves its counter by what changed. */
export async function setCommentLike(
  trx: ContentTrx,
  on: boolean,
  commentId: string,
  userId: string,
): Promise<{ row: CommentRow; moved: boolean }> {
  const r = on
    ? await sql`INSERT INTO content.comment_likes (comment_id, user_id) VALUES (${commentId}::uuid, ${userId}::uuid)
        ON CONFLICT DO NOTHING RETURNING comment_id`.execute(trx)
    : await sql`DELETE FROM content.comment_likes WHERE comment_id = ${commentId}::uuid AND user_id = ${userId}::uuid
        RETURNING comment_id`.execute(trx);
  const d = r.rows.length === 0 ? 0 : on ? 1 : -1;
  const u = await sql<CommentRow>`UPDATE content.comments SET like_count = like_count + ${d}
    WHERE id = ${commentId}::uuid RETURNING ${COMMENT_COLUMNS}`.execute(trx);
  return { row: u.rows[0] as CommentRow, moved: d !== 0 };
}

// The purge job

/** One purger at a time: false when another holds the lock (for the rest of `trx`). */
export async function tryPurgeLock(trx: ContentTrx): Promise<boolean> {
  const lock = await sql<{
    ok: boolean;
  }>`SELECT pg_try_advisory_xact_lock(hashtext('nova.content.purge')) AS ok`.execute(trx);
  return !!lock.rows[0]?.ok;
}

/** Up to `batch` posts soft-deleted more than `olderThanMs` ago, oldest first, locked. */
export async function purgeablePosts(
  trx: ContentTrx,
  olderThanMs: number,
  batch: number,
): Promise<{ id: string; author_id: string; media_ids: string[] }[]> {
  const r = await sql<{ id: string; author_id: string; media_ids: string[] }>`SELECT id::text AS id,
      author_id::text AS author_id,
      ARRAY(SELECT a->>'mediaId' FROM jsonb_array_elements(attachments) AS a) AS media_ids
    FROM content.posts WHERE deleted_at < now() - make_interval(secs => ${olderThanMs / 1000})
    ORDER BY deleted_at LIMIT ${batch} FOR UPDATE SKIP LOCKED`.execute(trx);
  return r.rows;
}

/** Hard-deletes posts and everything hanging off them. */
export async function hardDeletePosts(trx: ContentTrx, ids: string[]): Promise<void> {
  const c = sql`(SELECT id FROM content.comments WHERE post_id = ANY(${ids}::uuid[]))`;
  await sql`DELETE FROM content.comment_likes WHERE comment_id IN ${c}`.execute(trx);
  await sql`UPDATE content.comments SET parent_id = NULL WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
  await sql`DELETE FROM content.comments WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
  for (const t of ["post_likes", "bookmarks", "post_edits", "post_counts"]) {
    await sql`DELETE FROM ${sql.table(`content.${t}`)} WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
  }
  await sql`DELETE FROM content.posts WHERE id = ANY(${ids}::uuid[])`.execute(trx);
}

/** Hard-deletes comments soft-deleted more than `olderThanMs` ago (on live posts). */
export async function hardDeleteOldComments(trx: ContentTrx, olderThanMs: number): Promise<void> {
  const old = sql`(SELECT id FROM content.comments WHERE deleted_at < now() - make_interval(secs => ${olderThanMs / 1000}))`;
  await sql`DELETE FROM content.comment_likes WHERE comment_id IN ${old}`.execute(trx);
  await sql`UPDATE content.comments SET parent_id = NULL WHERE parent_id IN ${old}`.execute(trx);
  await sql`DELETE FROM content.comments WHERE id IN ${old}`.execute(trx);
}

// ---- account erasure (identity's AccountErased)

/**
 * Deletes everything content holds of an erased user: their posts with whatever hangs on them (others'
 * comments, likes and bookmarks included), their comments on others' posts (replies to them stay, no
 * longer replies), their likes and bookmarks, with the counts on others' posts and comments moved as
 * an unlike or a deleted comment moves them; mentions of them and their moderation marks are dropped.
 * Answers the surviving posts whose counts or rows changed (their cache entries go). Idempotent.
 */
export async function eraseAuthor(trx: ContentTrx, userId: string): Promise<string[]> {
  const own = await sql<{
    id: string;
  }>`SELECT id::text AS id FROM content.posts WHERE author_id = ${userId}::uuid`.execute(trx);
  if (own.rows.length)
    await hardDeletePosts(
      trx,
      own.rows.map((r) => r.id),
    );
  const touched = new Set<string>();
  // Their live comments counted on others' posts.
  const comments = await sql<{ post_id: string; n: number }>`SELECT post_id::text AS post_id, count(*)::int AS n
    FROM content.comments WHERE author_id = ${userId}::uuid AND deleted_at IS NULL GROUP BY post_id`.execute(trx);
  for (const c of comments.rows) {
    await bumpCounts(trx, c.post_id, { comments: -c.n });
    touched.add(c.post_id);
  }
  const mine = sql`(SELECT id FROM content.comments WHERE author_id = ${userId}::uuid)`;
  await sql`DELETE FROM content.comment_likes WHERE comment_id IN ${mine}`.execute(trx);
  await sql`UPDATE content.comments SET parent_id = NULL WHERE parent_id IN ${mine}`.execute(trx);
  await sql`DELETE FROM content.comments WHERE author_id = ${userId}::uuid`.execute(trx);
  // Their likes of others' comments.
  await sql`UPDATE content.comments c SET like_count = GREATEST(0, c.like_count - 1)
    FROM content.comment_likes l WHERE l.comment_id = c.id AND l.user_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM content.comment_likes WHERE user_id = ${userId}::uuid`.execute(trx);
  // Their likes and bookmarks of others' posts.
  for (const [table, col] of [
    ["post_likes", "like_count"],
    ["bookmarks", "bookmark_count"],
  ] as const) {
    const gone = await sql<{ post_id: string }>`DELETE FROM ${sql.table(`content.${table}`)}
      WHERE user_id = ${userId}::uuid RETURNING post_id::text AS post_id`.execute(trx);
    const ids = gone.rows.map((r) => r.post_id);
    if (ids.length === 0) continue;
    await sql`UPDATE content.post_counts SET ${sql.ref(col)} = GREATEST(0, ${sql.ref(col)} - 1)
      WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
    for (const id of ids) touched.add(id);
  }
  const mentioned = await sql<{
    id: string;
  }>`UPDATE content.posts SET mention_ids = array_remove(mention_ids, ${userId}::uuid)
    WHERE ${userId}::uuid = ANY(mention_ids) RETURNING id::text AS id`.execute(trx);
  for (const r of mentioned.rows) touched.add(r.id);
  await sql`UPDATE content.posts SET deleted_by = NULL WHERE deleted_by = ${userId}::uuid`.execute(trx);
  await sql`UPDATE content.comments SET deleted_by = NULL WHERE deleted_by = ${userId}::uuid`.execute(trx);
  return [...touched, ...own.rows.map((r) => r.id)];
}

/** The user's own live comments, for keysetPage on `content.comments.id` (their data export). */
export function ownCommentsQuery(db: ContentDb, userId: string) {
  return db
    .selectFrom("content.comments")
    .select(COMMENT_FIELDS)
    .where("author_id", "=", userId)
    .where("deleted_at", "is", null);
}

/** The live posts the user liked, for keysetPage on `l.post_id` (their data export). */
export function ownLikesQuery(db: ContentDb, userId: string) {
  return db
    .selectFrom("content.post_likes as l")
    .innerJoin("content.posts as p", (j) => j.onRef("p.id", "=", "l.post_id").on("p.deleted_at", "is", null))
    .select(["l.post_id", "l.created_at"])
    .where("l.user_id", "=", userId);
}
