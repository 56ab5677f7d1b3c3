/**
 * The content service: posts (edit history, soft delete), comments (one
 * level of replies), likes, bookmarks and exact counters. Every write and its
 * events commit in one transaction; every handler validates its input and
 * checks the caller itself.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type Kysely, sql, type Transaction } from "kysely";
import {
  type Comment,
  CommentCountsSchema,
  CommentSchema,
  type ContentService,
  CreateCommentResponseSchema,
  CreatePostResponseSchema,
  DeleteCommentResponseSchema,
  DeletePostResponseSchema,
  EditPostResponseSchema,
  GetCountsResponseSchema,
  GetPostResponseSchema,
  GetPostsResponseSchema,
  GetViewerStateResponseSchema,
  ListBookmarksResponseSchema,
  ListCommentsResponseSchema,
  ListPostEditsResponseSchema,
  ListUserPostsResponseSchema,
  MediaSchema,
  type Post,
  type PostCounts,
  PostCountsSchema,
  PostEditSchema,
  PostSchema,
  ScanPostsResponseSchema,
  ViewerStateSchema,
} from "../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { decodeCursor, ID, keysetPage, LIST, pageSize, SCAN, SEQ } from "../../platform/paging.ts";
import { requireModuleOrAdmin } from "../../platform/rpc/authz.ts";
import { optionalUser, requireUser } from "../../platform/rpc/context.ts";
import { uuid, uuids } from "../../platform/validate.ts";
import { LIMITS, type MediaInput, parseHashtags, parseMentions, validateMedia, validateText } from "./validation.ts";

/** What content needs from other services (RPC-backed in the module, cached there). */
export interface ContentPeers {
  /**
   * Of `authorIds`, those who block `viewerId` (or whom the viewer blocks: either way, no contact).
   * `fresh` (for writes) asks the graph's primary, past every cache; reads may be up to a moment old.
   */
  blockedBetween(viewerId: string, authorIds: string[], fresh?: boolean): Promise<Set<string>>;
  /** Existing users by username -> id. */
  resolveUsernames(usernames: string[]): Promise<Map<string, string>>;
}

export interface ContentDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  outbox: Outbox;
  peers: ContentPeers;
  /** Called after a write commits with the posts whose cached views it changed. */
  changed?: (postIds: string[]) => Promise<void> | void;
}

export interface PostRow {
  id: string;
  author_id: string;
  text: string;
  media: MediaInput[];
  hashtags: string[];
  mention_ids: string[];
  /** RFC 3339 (rows are cached as JSON). */
  created_at: string;
  edited_at: string | null;
}

export function toPost(r: PostRow): Post {
  return create(PostSchema, {
    id: r.id,
    authorId: r.author_id,
    text: r.text,
    media: r.media.map((m) => create(MediaSchema, m)),
    hashtags: r.hashtags,
    mentionIds: r.mention_ids,
    createdAt: r.created_at,
    editedAt: r.edited_at ?? "",
  });
}

interface CommentRow {
  id: string;
  post_id: string;
  author_id: string;
  parent_id: string | null;
  text: string;
  like_count: number;
  created_at: Date;
}

function toComment(r: CommentRow): Comment {
  return create(CommentSchema, {
    id: r.id,
    postId: r.post_id,
    authorId: r.author_id,
    parentId: r.parent_id ?? "",
    text: r.text,
    likeCount: r.like_count,
    createdAt: r.created_at.toISOString(),
  });
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
  sql<string[]>`hashtags`.as("hashtags"),
  sql<string[]>`mention_ids::text[]`.as("mention_ids"),
  sql<string>`to_json(created_at) #>> '{}'`.as("created_at"),
  sql<string | null>`to_json(edited_at) #>> '{}'`.as("edited_at"),
] as const;
const POST_COLUMNS = sql.join(POST_FIELDS);

/** The columns the paged queries name besides those (as node-postgres reads them: bigint as text). */
type ContentTables = {
  "content.posts": { id: string; author_id: string; deleted_at: Date | null };
  "content.comments": { id: string; post_id: string; deleted_at: Date | null };
  "content.bookmarks": { post_id: string; user_id: string; seq: string };
};

/** Loads live posts by id (no visibility rules): the cacheable part of GetPosts. */
export async function loadPosts(db: Kysely<unknown>, ids: string[]): Promise<Map<string, PostRow>> {
  if (ids.length === 0) return new Map();
  const r = await sql<PostRow>`SELECT ${POST_COLUMNS} FROM content.posts
    WHERE id = ANY(${ids}::uuid[]) AND deleted_at IS NULL`.execute(db);
  return new Map(r.rows.map((p) => [p.id, p]));
}

export async function loadCounts(db: Kysely<unknown>, ids: string[]): Promise<Map<string, PostCounts>> {
  if (ids.length === 0) return new Map();
  const r = await sql<{ post_id: string; like_count: number; comment_count: number; bookmark_count: number }>`
    SELECT post_id::text AS post_id, like_count, comment_count, bookmark_count
      FROM content.post_counts WHERE post_id = ANY(${ids}::uuid[])`.execute(db);
  return new Map(
    r.rows.map((c) => [
      c.post_id,
      create(PostCountsSchema, {
        postId: c.post_id,
        likeCount: c.like_count,
        commentCount: c.comment_count,
        bookmarkCount: c.bookmark_count,
      }),
    ]),
  );
}

const POST_TOPIC_AGGREGATE = "post";

/** Modules that may page through every post (to rebuild their projections). */
const SCANNERS = ["search"] as const;

function postEvent(type: string, postId: string, actorId: string, payload: Record<string, unknown>): NewEvent {
  return { type, aggregateType: POST_TOPIC_AGGREGATE, aggregateId: postId, actorId, payload: { postId, ...payload } };
}

export interface PostCache {
  /** Live posts by id, through the cache when there is one. */
  posts(ids: string[]): Promise<Map<string, PostRow>>;
  /** Counters by post id (absent: no counters row), through the cache when there is one. */
  counts?(ids: string[]): Promise<Map<string, PostCounts>>;
}

export function createContentService(
  deps: ContentDeps,
  cache: PostCache = { posts: (ids) => loadPosts(deps.db.reader, ids) },
): ServiceImpl<typeof ContentService> {
  const { writer, reader } = deps.db;
  const typedReader = reader.withTables<ContentTables>();
  const emit = (trx: Transaction<unknown>, ...events: NewEvent[]) => deps.outbox.emit(trx, ...events);
  const changed = async (ids: string[]) => {
    await deps.changed?.(ids);
  };

  /**
   * The post, if it exists, is live and the viewer may see it; else NOT_FOUND naming `field`.
   * `write`: the viewer is about to act on it, so blocks are asked fresh.
   */
  async function visiblePost(
    id: string,
    viewerId: string | undefined,
    field = "postId",
    write = false,
  ): Promise<PostRow> {
    const post = (await cache.posts([id])).get(id);
    if (!post) throw new NovaError("NOT_FOUND", "post not found", { field });
    if (viewerId && viewerId !== post.author_id) {
      const blocked = await deps.peers.blockedBetween(viewerId, [post.author_id], write);
      if (blocked.has(post.author_id)) throw new NovaError("NOT_FOUND", "post not found", { field });
    }
    return post;
  }

  /** Locks the counters row of a live post inside `trx`; NOT_FOUND when the post is gone. */
  async function lockLivePost(trx: Transaction<unknown>, postId: string): Promise<{ author_id: string }> {
    const r = await sql<{ author_id: string }>`SELECT p.author_id::text AS author_id FROM content.posts p
      WHERE p.id = ${postId}::uuid AND p.deleted_at IS NULL FOR SHARE`.execute(trx);
    const row = r.rows[0];
    if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
    return row;
  }

  async function bumpCounts(
    trx: Transaction<unknown>,
    postId: string,
    d: { likes?: number; comments?: number; bookmarks?: number },
  ): Promise<PostCounts> {
    const r = await sql<{ like_count: number; comment_count: number; bookmark_count: number }>`
      UPDATE content.post_counts SET
        like_count = like_count + ${d.likes ?? 0},
        comment_count = comment_count + ${d.comments ?? 0},
        bookmark_count = bookmark_count + ${d.bookmarks ?? 0}
      WHERE post_id = ${postId}::uuid RETURNING like_count, comment_count, bookmark_count`.execute(trx);
    const c = r.rows[0];
    return create(PostCountsSchema, {
      postId,
      likeCount: c?.like_count ?? 0,
      commentCount: c?.comment_count ?? 0,
      bookmarkCount: c?.bookmark_count ?? 0,
    });
  }

  async function countsOf(db: Kysely<unknown>, postId: string): Promise<PostCounts> {
    return (await loadCounts(db, [postId])).get(postId) ?? create(PostCountsSchema, { postId });
  }

  /** Like / bookmark and their reverses: idempotent toggles of one row plus its counter. */
  async function toggle(kind: "like" | "bookmark", on: boolean, rawPostId: string): Promise<{ counts: PostCounts }> {
    const user = requireUser();
    const postId = uuid("postId", rawPostId);
    const post = await visiblePost(postId, user.userId, "postId", true);
    const table = kind === "like" ? sql`content.post_likes` : sql`content.bookmarks`;
    const result = await writer.transaction().execute(async (trx) => {
      await lockLivePost(trx, postId);
      const r = on
        ? await sql`INSERT INTO ${table} (post_id, user_id) VALUES (${postId}::uuid, ${user.userId}::uuid)
            ON CONFLICT DO NOTHING RETURNING post_id`.execute(trx)
        : await sql`DELETE FROM ${table} WHERE post_id = ${postId}::uuid AND user_id = ${user.userId}::uuid
            RETURNING post_id`.execute(trx);
      if (r.rows.length === 0) return { counts: await countsOf(trx, postId), moved: false };
      const d = on ? 1 : -1;
      const counts = await bumpCounts(trx, postId, kind === "like" ? { likes: d } : { bookmarks: d });
      if (kind === "like") {
        await emit(
          trx,
          postEvent(on ? "PostLiked" : "PostUnliked", postId, user.userId, {
            userId: user.userId,
            authorId: post.author_id,
          }),
        );
      }
      return { counts, moved: true };
    });
    if (result.moved) await changed([postId]);
    return { counts: result.counts };
  }

  async function likeComment(on: boolean, rawId: string) {
    const user = requireUser();
    const commentId = uuid("commentId", rawId);
    const c = await sql<{ post_id: string }>`SELECT post_id::text AS post_id FROM content.comments
      WHERE id = ${commentId}::uuid AND deleted_at IS NULL`.execute(reader);
    const postId = c.rows[0]?.post_id;
    if (!postId) throw new NovaError("NOT_FOUND", "comment not found", { field: "commentId" });
    await visiblePost(postId, user.userId, "commentId", true);
    const row = await writer.transaction().execute(async (trx) => {
      const r = on
        ? await sql`INSERT INTO content.comment_likes (comment_id, user_id) VALUES (${commentId}::uuid, ${user.userId}::uuid)
            ON CONFLICT DO NOTHING RETURNING comment_id`.execute(trx)
        : await sql`DELETE FROM content.comment_likes WHERE comment_id = ${commentId}::uuid AND user_id = ${user.userId}::uuid
            RETURNING comment_id`.execute(trx);
      const d = r.rows.length === 0 ? 0 : on ? 1 : -1;
      const u = await sql<CommentRow>`UPDATE content.comments SET like_count = like_count + ${d}
        WHERE id = ${commentId}::uuid RETURNING ${COMMENT_COLUMNS}`.execute(trx);
      return u.rows[0] as CommentRow;
    });
    return {
      counts: create(CommentCountsSchema, { commentId, likeCount: row.like_count }),
      comment: toComment(row),
    };
  }

  return {
    async createPost(req) {
      const user = requireUser();
      const text = validateText("text", req.text, LIMITS.postTextMax, req.media.length > 0);
      const media = validateMedia(req.media);
      const hashtags = parseHashtags(text);
      const mentioned = await deps.peers.resolveUsernames(parseMentions(text));
      const mentionIds = [...new Set([...mentioned.values()])].filter((id) => id !== user.userId);
      if (mentionIds.length && (await deps.peers.blockedBetween(user.userId, mentionIds, true)).size > 0) {
        throw new NovaError("FORBIDDEN", "text: cannot mention a user across a block", { field: "text" });
      }
      const post = await writer.transaction().execute(async (trx) => {
        const r = await sql<PostRow>`INSERT INTO content.posts (author_id, text, media, hashtags, mention_ids)
          VALUES (${user.userId}::uuid, ${text}, ${JSON.stringify(media)}::jsonb, ${hashtags}::text[], ${mentionIds}::uuid[])
          RETURNING ${POST_COLUMNS}`.execute(trx);
        const row = r.rows[0] as PostRow;
        await sql`INSERT INTO content.post_counts (post_id) VALUES (${row.id}::uuid)`.execute(trx);
        await emit(
          trx,
          postEvent("PostCreated", row.id, user.userId, {
            authorId: user.userId,
            text,
            hashtags,
            mentionIds,
            mediaCount: media.length,
            createdAt: row.created_at,
          }),
          ...mentionIds.map((id) =>
            postEvent("Mentioned", row.id, user.userId, { authorId: user.userId, mentionedId: id }),
          ),
        );
        return row;
      });
      return create(CreatePostResponseSchema, { post: toPost(post) });
    },

    async editPost(req) {
      const user = requireUser();
      const postId = uuid("postId", req.postId);
      const text = validateText("text", req.text, LIMITS.postTextMax, true);
      const post = await writer.transaction().execute(async (trx) => {
        const cur = await sql<PostRow>`SELECT ${POST_COLUMNS} FROM content.posts
          WHERE id = ${postId}::uuid AND deleted_at IS NULL FOR UPDATE`.execute(trx);
        const row = cur.rows[0];
        if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
        if (row.author_id !== user.userId) {
          throw new NovaError("FORBIDDEN", "only the author can edit a post", { field: "postId" });
        }
        if (text === "" && row.media.length === 0)
          throw new NovaError("VALIDATION_FAILED", "text: is required", { field: "text" });
        if (row.text === text) return row;
        const hashtags = parseHashtags(text);
        await sql`INSERT INTO content.post_edits (post_id, text) VALUES (${postId}::uuid, ${row.text})`.execute(trx);
        const r =
          await sql<PostRow>`UPDATE content.posts SET text = ${text}, hashtags = ${hashtags}::text[], edited_at = now()
          WHERE id = ${postId}::uuid RETURNING ${POST_COLUMNS}`.execute(trx);
        await emit(trx, postEvent("PostEdited", postId, user.userId, { authorId: user.userId, text, hashtags }));
        return r.rows[0] as PostRow;
      });
      await changed([postId]);
      return create(EditPostResponseSchema, { post: toPost(post) });
    },

    async deletePost(req) {
      const user = requireUser();
      const postId = uuid("postId", req.postId);
      await writer.transaction().execute(async (trx) => {
        const cur = await sql<{ author_id: string }>`SELECT author_id::text AS author_id FROM content.posts
          WHERE id = ${postId}::uuid AND deleted_at IS NULL FOR UPDATE`.execute(trx);
        const row = cur.rows[0];
        if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
        if (row.author_id !== user.userId && !user.admin) {
          throw new NovaError("FORBIDDEN", "only the author or an admin can delete a post", { field: "postId" });
        }
        await sql`UPDATE content.posts SET deleted_at = now(), deleted_by = ${user.userId}::uuid
          WHERE id = ${postId}::uuid`.execute(trx);
        await emit(
          trx,
          postEvent("PostDeleted", postId, user.userId, { authorId: row.author_id, deletedBy: user.userId }),
        );
      });
      await changed([postId]);
      return create(DeletePostResponseSchema, {});
    },

    async getPost(req) {
      const postId = uuid("postId", req.postId);
      return create(GetPostResponseSchema, { post: toPost(await visiblePost(postId, optionalUser()?.userId)) });
    },

    async getPosts(req) {
      const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
      const found = await cache.posts([...new Set(ids)]);
      const viewer = optionalUser()?.userId;
      let hidden = new Set<string>();
      if (viewer) {
        const authors = [...new Set([...found.values()].map((p) => p.author_id).filter((a) => a !== viewer))];
        if (authors.length) hidden = await deps.peers.blockedBetween(viewer, authors);
      }
      const posts = ids.flatMap((id) => {
        const p = found.get(id);
        return p && !hidden.has(p.author_id) ? [toPost(p)] : [];
      });
      return create(GetPostsResponseSchema, { posts });
    },

    async listPostEdits(req) {
      const postId = uuid("postId", req.postId);
      await visiblePost(postId, optionalUser()?.userId);
      const r = await sql<{ text: string; replaced_at: Date }>`SELECT text, replaced_at FROM content.post_edits
        WHERE post_id = ${postId}::uuid ORDER BY id`.execute(reader);
      return create(ListPostEditsResponseSchema, {
        edits: r.rows.map((e) => create(PostEditSchema, { text: e.text, replacedAt: e.replaced_at.toISOString() })),
      });
    },

    async listUserPosts(req) {
      const userId = uuid("userId", req.userId);
      const limit = pageSize(req.limit, LIST);
      const after = decodeCursor(req.cursor, ID);
      const viewer = optionalUser()?.userId;
      if (viewer && viewer !== userId && (await deps.peers.blockedBetween(viewer, [userId])).has(userId)) {
        return create(ListUserPostsResponseSchema, { postIds: [], nextCursor: "" });
      }
      const page = await keysetPage(
        typedReader
          .selectFrom("content.posts as p")
          .select("p.id")
          .where("p.author_id", "=", userId)
          .where("p.deleted_at", "is", null),
        { key: "p.id", after, limit, position: (x) => x.id },
      );
      return create(ListUserPostsResponseSchema, { postIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor });
    },

    async createComment(req) {
      const user = requireUser();
      const postId = uuid("postId", req.postId);
      const text = validateText("text", req.text, LIMITS.commentTextMax);
      let parentId = req.parentId ? uuid("parentId", req.parentId) : null;
      const post = await visiblePost(postId, user.userId, "postId", true);
      const comment = await writer.transaction().execute(async (trx) => {
        await lockLivePost(trx, postId);
        if (parentId) {
          const p = await sql<{ post_id: string; parent_id: string | null }>`SELECT post_id::text AS post_id,
            parent_id::text AS parent_id FROM content.comments WHERE id = ${parentId}::uuid AND deleted_at IS NULL`.execute(
            trx,
          );
          const parent = p.rows[0];
          if (!parent || parent.post_id !== postId) {
            throw new NovaError("NOT_FOUND", "parent comment not found on this post", { field: "parentId" });
          }
          // One level deep: a reply to a reply belongs to the top-level comment.
          parentId = parent.parent_id ?? parentId;
        }
        const r = await sql<CommentRow>`INSERT INTO content.comments (post_id, author_id, parent_id, text)
          VALUES (${postId}::uuid, ${user.userId}::uuid, ${parentId}::uuid, ${text})
          RETURNING ${COMMENT_COLUMNS}`.execute(trx);
        const row = r.rows[0] as CommentRow;
        await bumpCounts(trx, postId, { comments: 1 });
        await emit(
          trx,
          postEvent("CommentCreated", postId, user.userId, {
            commentId: row.id,
            authorId: user.userId,
            postAuthorId: post.author_id,
            parentId,
            text,
          }),
        );
        return row;
      });
      await changed([postId]);
      return create(CreateCommentResponseSchema, { comment: toComment(comment) });
    },

    async deleteComment(req) {
      const user = requireUser();
      const commentId = uuid("commentId", req.commentId);
      const postId = await writer.transaction().execute(async (trx) => {
        const r = await sql<{ post_id: string; author_id: string; post_author_id: string }>`
          SELECT c.post_id::text AS post_id, c.author_id::text AS author_id, p.author_id::text AS post_author_id
            FROM content.comments c JOIN content.posts p ON p.id = c.post_id
           WHERE c.id = ${commentId}::uuid AND c.deleted_at IS NULL FOR UPDATE OF c`.execute(trx);
        const c = r.rows[0];
        if (!c) throw new NovaError("NOT_FOUND", "comment not found", { field: "commentId" });
        if (c.author_id !== user.userId && c.post_author_id !== user.userId && !user.admin) {
          throw new NovaError("FORBIDDEN", "only the comment's or the post's author can delete a comment", {
            field: "commentId",
          });
        }
        await sql`UPDATE content.comments SET deleted_at = now(), deleted_by = ${user.userId}::uuid
          WHERE id = ${commentId}::uuid`.execute(trx);
        await bumpCounts(trx, c.post_id, { comments: -1 });
        await emit(
          trx,
          postEvent("CommentDeleted", c.post_id, user.userId, {
            commentId,
            authorId: c.author_id,
            deletedBy: user.userId,
          }),
        );
        return c.post_id;
      });
      await changed([postId]);
      return create(DeleteCommentResponseSchema, {});
    },

    async listComments(req) {
      const postId = uuid("postId", req.postId);
      const limit = pageSize(req.limit, LIST);
      const after = decodeCursor(req.cursor, ID);
      const viewer = optionalUser()?.userId;
      await visiblePost(postId, viewer);
      const page = await keysetPage(
        typedReader
          .selectFrom("content.comments")
          .select(COMMENT_FIELDS)
          .where("post_id", "=", postId)
          .where("deleted_at", "is", null),
        { key: "content.comments.id", after, limit, order: "asc", position: (c) => c.id },
      );
      // Comments of authors in a block with the viewer leave the page; the next page starts after the last one read.
      let rows = page.rows;
      if (viewer) {
        const authors = [...new Set(rows.map((c) => c.author_id).filter((a) => a !== viewer))];
        const hidden = authors.length ? await deps.peers.blockedBetween(viewer, authors) : new Set<string>();
        rows = rows.filter((c) => !hidden.has(c.author_id));
      }
      return create(ListCommentsResponseSchema, {
        comments: rows.map(toComment),
        nextCursor: page.nextCursor,
      });
    },

    likePost: (req) => toggle("like", true, req.postId),
    unlikePost: (req) => toggle("like", false, req.postId),
    bookmarkPost: (req) => toggle("bookmark", true, req.postId),
    unbookmarkPost: (req) => toggle("bookmark", false, req.postId),
    likeComment: (req) => likeComment(true, req.commentId),
    unlikeComment: (req) => likeComment(false, req.commentId),

    async listBookmarks(req) {
      const user = requireUser();
      const limit = pageSize(req.limit, LIST);
      const after = decodeCursor(req.cursor, SEQ);
      const page = await keysetPage(
        typedReader
          .selectFrom("content.bookmarks as b")
          .innerJoin("content.posts as p", (j) => j.onRef("p.id", "=", "b.post_id").on("p.deleted_at", "is", null))
          .select(["b.post_id", "b.seq"])
          .where("b.user_id", "=", user.userId),
        { key: "b.seq", after, limit, position: (b) => b.seq },
      );
      return create(ListBookmarksResponseSchema, {
        postIds: page.rows.map((b) => b.post_id),
        nextCursor: page.nextCursor,
        cursors: page.cursors,
      });
    },

    async getCounts(req) {
      const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
      const unique = [...new Set(ids)];
      const counts = cache.counts ? await cache.counts(unique) : await loadCounts(reader, unique);
      return create(GetCountsResponseSchema, {
        counts: ids.map((id) => counts.get(id) ?? create(PostCountsSchema, { postId: id })),
      });
    },

    async getViewerState(req) {
      const user = requireUser();
      const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
      const r = await sql<{ post_id: string; liked: boolean; bookmarked: boolean }>`
        SELECT x.id::text AS post_id,
               EXISTS (SELECT 1 FROM content.post_likes l WHERE l.post_id = x.id AND l.user_id = ${user.userId}::uuid) AS liked,
               EXISTS (SELECT 1 FROM content.bookmarks b WHERE b.post_id = x.id AND b.user_id = ${user.userId}::uuid) AS bookmarked
          FROM unnest(${ids}::uuid[]) AS x(id)`.execute(reader);
      return create(GetViewerStateResponseSchema, {
        states: r.rows.map((s) =>
          create(ViewerStateSchema, { postId: s.post_id, liked: s.liked, bookmarked: s.bookmarked }),
        ),
      });
    },

    async scanPosts(req) {
      requireModuleOrAdmin(SCANNERS);
      const limit = pageSize(req.limit, SCAN);
      const after = decodeCursor(req.cursor, ID);
      const page = await keysetPage(
        typedReader.selectFrom("content.posts").select(POST_FIELDS).where("deleted_at", "is", null),
        { key: "content.posts.id", after, limit, order: "asc", position: (p) => p.id },
      );
      const total = after
        ? 0n
        : BigInt(
            (await sql<{ n: string }>`SELECT count(*) AS n FROM content.posts WHERE deleted_at IS NULL`.execute(reader))
              .rows[0]?.n ?? 0,
          );
      return create(ScanPostsResponseSchema, {
        posts: page.rows.map(toPost),
        nextCursor: page.nextCursor,
        total,
      });
    },
  };
}

/**
 * Hard-deletes content soft-deleted more than `olderThanMs` ago, in batches,
 * with a PostPurged event per post; one purger at a time (advisory lock).
 * Returns how many posts were purged.
 */
export async function purgeDeleted(
  db: Kysely<unknown>,
  outbox: Outbox,
  olderThanMs: number,
  batch = 200,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.transaction().execute(async (trx) => {
      const lock = await sql<{
        ok: boolean;
      }>`SELECT pg_try_advisory_xact_lock(hashtext('nova.content.purge')) AS ok`.execute(trx);
      if (!lock.rows[0]?.ok) return 0;
      const r = await sql<{ id: string; author_id: string }>`SELECT id::text AS id, author_id::text AS author_id
        FROM content.posts WHERE deleted_at < now() - make_interval(secs => ${olderThanMs / 1000})
        ORDER BY deleted_at LIMIT ${batch} FOR UPDATE SKIP LOCKED`.execute(trx);
      const ids = r.rows.map((p) => p.id);
      if (ids.length === 0) return 0;
      const c = sql`(SELECT id FROM content.comments WHERE post_id = ANY(${ids}::uuid[]))`;
      await sql`DELETE FROM content.comment_likes WHERE comment_id IN ${c}`.execute(trx);
      await sql`UPDATE content.comments SET parent_id = NULL WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
      await sql`DELETE FROM content.comments WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
      for (const t of ["post_likes", "bookmarks", "post_edits", "post_counts"]) {
        await sql`DELETE FROM ${sql.table(`content.${t}`)} WHERE post_id = ANY(${ids}::uuid[])`.execute(trx);
      }
      await sql`DELETE FROM content.posts WHERE id = ANY(${ids}::uuid[])`.execute(trx);
      await outbox.emit(
        trx,
        ...r.rows.map((p) => postEvent("PostPurged", p.id, p.author_id, { authorId: p.author_id })),
      );
      return ids.length;
    });
    total += n;
    if (n < batch) break;
  }
  // Comments deleted long ago on live posts.
  await db.transaction().execute(async (trx) => {
    const old = sql`(SELECT id FROM content.comments WHERE deleted_at < now() - make_interval(secs => ${olderThanMs / 1000}))`;
    await sql`DELETE FROM content.comment_likes WHERE comment_id IN ${old}`.execute(trx);
    await sql`UPDATE content.comments SET parent_id = NULL WHERE parent_id IN ${old}`.execute(trx);
    await sql`DELETE FROM content.comments WHERE id IN ${old}`.execute(trx);
  });
  return total;
}
