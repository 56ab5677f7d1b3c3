/**
 * The feed service (ARCHITECTURE §6): hybrid fan-out on write.
 * - Its consumers keep projections from the graph's and content's events
 *   (follows, hidden authors, posts, follower counts, engagement) and fan a
 *   new post out to the timelines of its author's ACTIVE followers, unless
 *   the author has more followers than the celebrity threshold.
 * - GetTimeline reads the stored timeline (rebuilding it from the
 *   projections when it is missing, e.g. for a user back after a long
 *   absence) and merges the followed celebrities' recent posts at read time.
 * - Unfollow, block and mute take the author's posts out of the viewer's
 *   timeline; a deleted post leaves every timeline.
 * - Explore ranks recent posts by Lemmy's hot rank, updated on every
 *   engagement event and refreshed by a periodic job as time passes.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { type Kysely, sql, type Transaction } from "kysely";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { FeedService } from "../../gen/nova/feed/v1/feed_pb.ts";
import { invalid } from "../../platform/errors.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter, histogram } from "../../platform/observability/metrics.ts";
import { requireUser } from "../../platform/rpc/context.ts";
import type { TimelineStore } from "./store.ts";

export interface FeedOptions {
  /** Authors with more followers are merged at read time instead of fanned out. */
  celebrityThreshold: number;
  /** Entries kept per timeline. */
  timelineSize: number;
  /** Followers idle this long are skipped by fan-out; their timeline is rebuilt when they return. */
  inactiveMs: number;
  /**
   * A viewer this process served within this long counts as active without asking the database,
   * and their last_seen_at is written at most this often.
   */
  activityRecheckMs: number;
}

export interface FeedDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  store: TimelineStore;
  options: FeedOptions;
  log: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_PAGE = 50;

const fanouts = counter("nova_feed_fanout_timelines_total", "Timelines a post was written to by fan-out");
const fanoutSeconds = histogram("nova_feed_fanout_seconds", "Time to fan one post out", []);
const rebuilds = counter("nova_feed_timeline_rebuilds_total", "Timelines rebuilt from Postgres on a miss");

function limitOf(limit: number): number {
  if (limit === 0) return 20;
  if (limit < 1 || limit > MAX_PAGE) throw invalid("limit", `must be 1 to ${MAX_PAGE}`);
  return limit;
}

function idCursor(cursor: string): string | undefined {
  if (cursor === "") return undefined;
  const v = Buffer.from(cursor, "base64url").toString("utf8");
  if (cursor.length > 64 || !UUID.test(v)) throw invalid("cursor", "is not a cursor from this list");
  return v;
}

const encode = (s: string) => Buffer.from(s, "utf8").toString("base64url");

function ids<N extends string[]>(p: Record<string, unknown>, ...names: N): { [K in keyof N]: string } {
  return names.map((n) => {
    const v = p[n];
    if (typeof v !== "string" || !UUID.test(v)) throw new Error(`payload.${n} must be an id`);
    return v;
  }) as { [K in keyof N]: string };
}

export function createFeed(deps: FeedDeps): {
  service: ServiceImpl<typeof FeedService>;
  consumers: EventHandler[];
  refreshHotRanks(): Promise<void>;
  fanOut(postId: string, authorId: string): Promise<number>;
} {
  const { writer, reader } = deps.db;
  const { store, options } = deps;

  /** The query for an author's active followers (seen within the inactivity window), as `id`. */
  const activeFollowersOf = (authorId: string) => sql<{ id: string }>`SELECT f.follower_id::text AS id
      FROM feed.follows f JOIN feed.activity a ON a.user_id = f.follower_id
      WHERE f.followee_id = ${authorId}::uuid
        AND a.last_seen_at > now() - make_interval(secs => ${options.inactiveMs / 1000})`;

  async function activeFollowers(db: Kysely<unknown>, authorId: string): Promise<string[]> {
    return (await activeFollowersOf(authorId).execute(db)).rows.map((x) => x.id);
  }

  /** SQL: true when the author has more followers than the celebrity threshold (no fan-out then). */
  const celebrity = (authorId: string) =>
    sql<boolean>`coalesce((SELECT followers FROM feed.authors WHERE author_id = ${authorId}::uuid), 0)
      > ${options.celebrityThreshold}`;

  async function isCelebrity(db: Kysely<unknown>, authorId: string): Promise<boolean> {
    const r = await sql<{ celebrity: boolean }>`SELECT ${celebrity(authorId)} AS celebrity`.execute(db);
    return r.rows[0]?.celebrity === true;
  }

  async function fanOut(postId: string, authorId: string, db: Kysely<unknown> = writer): Promise<number> {
    if (await isCelebrity(db, authorId)) return 0;
    return writeFanOut(postId, authorId, await activeFollowers(db, authorId));
  }

  /** Writes the post to its followers' timelines, and the author's own. */
  async function writeFanOut(postId: string, authorId: string, followers: string[]): Promise<number> {
    const end = fanoutSeconds.startTimer();
    await store.fanOut([...followers, authorId], postId, authorId);
    fanouts.inc(followers.length + 1);
    end();
    return followers.length;
  }

  /** Posts of `authorId` a timeline may hold (the window a removal must cover). */
  async function recentPostsOf(db: Kysely<unknown>, authorId: string): Promise<string[]> {
    const r = await sql<{ id: string }>`SELECT post_id::text AS id FROM feed.posts
      WHERE author_id = ${authorId}::uuid ORDER BY post_id DESC LIMIT ${options.timelineSize}`.execute(db);
    return r.rows.map((x) => x.id);
  }

  async function hide(trx: Transaction<unknown>, viewer: string, author: string, reason: "mute" | "block") {
    await sql`INSERT INTO feed.hidden (viewer_id, author_id, reason) VALUES (${viewer}::uuid, ${author}::uuid, ${reason})
      ON CONFLICT DO NOTHING`.execute(trx);
    await store.remove(viewer, await recentPostsOf(trx, author), author);
  }

  async function unhide(trx: Transaction<unknown>, viewer: string, author: string, reason: "mute" | "block") {
    await sql`DELETE FROM feed.hidden WHERE viewer_id = ${viewer}::uuid AND author_id = ${author}::uuid
      AND reason = ${reason}`.execute(trx);
    // Let the next read rebuild it with the author's posts back (if still followed).
    await markStale(trx, viewer);
  }

  async function markStale(_db: Kysely<unknown>, viewer: string) {
    await store.invalidate(viewer);
  }

  /**
   * A follow and a post of the same author must not race (the fan-out would
   * miss the new follower and the follower's backfill would miss the post):
   * both take the author's transaction lock, so the later one sees the other.
   */
  const lockAuthor = (trx: Transaction<unknown>, author: string) =>
    sql`SELECT pg_advisory_xact_lock(hashtextextended(${`feed:author:${author}`}, 0))`.execute(trx);

  async function onRelationship(event: Envelope, trx: Transaction<unknown>) {
    const [user, target] = ids(event.payload, "userId", "targetId");
    // The viewer's followed celebrities may have changed (follow, unfollow, mute, block).
    stars.delete(user);
    stars.delete(target);
    if (event.type === "Followed" || event.type === "Unfollowed") await lockAuthor(trx, target);
    switch (event.type) {
      case "Followed": {
        // The follow and the author's follower count in one statement (no row back: already following).
        const r = await sql<{ followers: number }>`WITH f AS (
            INSERT INTO feed.follows (follower_id, followee_id) VALUES (${user}::uuid, ${target}::uuid)
            ON CONFLICT DO NOTHING RETURNING follower_id)
          INSERT INTO feed.authors AS a (author_id, followers) SELECT ${target}::uuid, 1 FROM f
          ON CONFLICT (author_id) DO UPDATE SET followers = a.followers + 1 RETURNING a.followers`.execute(trx);
        const followers = r.rows[0]?.followers;
        if (followers !== undefined) {
          // The followee's recent posts join the follower's timeline (if it exists; else it is rebuilt on read).
          if (followers <= options.celebrityThreshold && (await store.built(user))) {
            const posts = await sql<{ id: string }>`SELECT post_id::text AS id FROM feed.posts
                WHERE author_id = ${target}::uuid AND NOT deleted ORDER BY post_id DESC LIMIT 50`.execute(trx);
            for (const p of posts.rows) await store.fanOut([user], p.id, target);
          }
        }
        return;
      }
      case "Unfollowed": {
        const r = await sql`DELETE FROM feed.follows WHERE follower_id = ${user}::uuid AND followee_id = ${target}::uuid
            RETURNING follower_id`.execute(trx);
        if (r.rows.length) {
          await sql`UPDATE feed.authors SET followers = greatest(0, followers - 1) WHERE author_id = ${target}::uuid`.execute(
            trx,
          );
        }
        await store.remove(user, await recentPostsOf(trx, target), target);
        return;
      }
      case "Blocked":
        await hide(trx, user, target, "block");
        await hide(trx, target, user, "block");
        return;
      case "Unblocked":
        await unhide(trx, user, target, "block");
        await unhide(trx, target, user, "block");
        return;
      case "Muted":
        await hide(trx, user, target, "mute");
        return;
      case "Unmuted":
        await unhide(trx, user, target, "mute");
        return;
      default:
        return;
    }
  }

  async function onPost(event: Envelope, trx: Transaction<unknown>) {
    const p = event.payload;
    switch (event.type) {
      case "PostCreated": {
        const [postId, authorId] = ids(p, "postId", "authorId");
        await lockAuthor(trx, authorId);
        const created = typeof p.createdAt === "string" ? p.createdAt : event.occurred_at;
        // The post, and (below the celebrity threshold) its author's active followers, in one statement.
        const r = await sql<{ inserted: boolean; followers: string[] | null }>`WITH ins AS (
            INSERT INTO feed.posts (post_id, author_id, created_at, hot_rank)
            VALUES (${postId}::uuid, ${authorId}::uuid, ${created}::timestamptz, feed.hot_rank(0, ${created}::timestamptz))
            ON CONFLICT DO NOTHING RETURNING post_id)
          SELECT EXISTS (SELECT 1 FROM ins) AS inserted,
            CASE WHEN ${celebrity(authorId)} THEN NULL ELSE ARRAY(SELECT id FROM (${activeFollowersOf(authorId)}) x) END AS followers`.execute(
          trx,
        );
        const row = r.rows[0];
        if (row?.inserted && row.followers) await writeFanOut(postId, authorId, row.followers);
        return;
      }
      case "PostDeleted":
      case "PostPurged": {
        const [postId, authorId] = ids(p, "postId", "authorId");
        await lockAuthor(trx, authorId);
        await sql`UPDATE feed.posts SET deleted = true WHERE post_id = ${postId}::uuid`.execute(trx);
        const followers = await sql<{ id: string }>`SELECT follower_id::text AS id FROM feed.follows
            WHERE followee_id = ${authorId}::uuid`.execute(trx);
        await store.removePost([...followers.rows.map((x) => x.id), authorId], postId);
        if (event.type === "PostPurged") await sql`DELETE FROM feed.posts WHERE post_id = ${postId}::uuid`.execute(trx);
        return;
      }
      case "PostLiked":
      case "PostUnliked":
      case "CommentCreated":
      case "CommentDeleted": {
        const [postId] = ids(p, "postId");
        const d = event.type === "PostLiked" || event.type === "CommentCreated" ? 1 : -1;
        const likes = event.type.startsWith("Post") ? d : 0;
        const comments = event.type.startsWith("Comment") ? d : 0;
        await sql`UPDATE feed.posts SET like_count = greatest(0, like_count + ${likes}),
              comment_count = greatest(0, comment_count + ${comments}),
              hot_rank = feed.hot_rank(greatest(0, like_count + ${likes}) + 2 * greatest(0, comment_count + ${comments}), created_at)
            WHERE post_id = ${postId}::uuid`.execute(trx);
        return;
      }
      default:
        return;
    }
  }

  // One consumer for both topics: in the embedded log they arrive in commit order.
  const consumer: EventHandler = {
    name: "feed.timelines",
    schema: "feed",
    topics: ["nova.graph.relationship", "nova.content.post"],
    handle: (event, trx) => (event.aggregate_type === "relationship" ? onRelationship(event, trx) : onPost(event, trx)),
  };

  /** Rebuilds a missing timeline from the projections (followed, not hidden, not deleted). */
  async function rebuild(viewer: string): Promise<void> {
    const r = await sql<{
      post_id: string;
      author_id: string;
    }>`SELECT p.post_id::text AS post_id, p.author_id::text AS author_id
      FROM feed.posts p
      WHERE NOT p.deleted
        AND (p.author_id = ${viewer}::uuid OR p.author_id IN (SELECT followee_id FROM feed.follows WHERE follower_id = ${viewer}::uuid))
        AND p.author_id NOT IN (SELECT author_id FROM feed.hidden WHERE viewer_id = ${viewer}::uuid)
      ORDER BY p.post_id DESC LIMIT ${options.timelineSize}`.execute(writer);
    await store.rebuild(
      viewer,
      r.rows.map((x) => ({ postId: x.post_id, authorId: x.author_id })),
    );
    rebuilds.inc();
  }

  /** The celebrities a viewer follows and does not hide (reused for 30 s). */
  const stars = new LRUCache<string, string[]>({ max: 50_000, ttl: 30_000 });
  async function followedCelebrities(viewer: string): Promise<string[]> {
    const hit = stars.get(viewer);
    if (hit) return hit;
    const r = await sql<{ id: string }>`SELECT f.followee_id::text AS id FROM feed.follows f
        JOIN feed.authors a ON a.author_id = f.followee_id AND a.followers > ${options.celebrityThreshold}
      WHERE f.follower_id = ${viewer}::uuid
        AND f.followee_id NOT IN (SELECT author_id FROM feed.hidden WHERE viewer_id = ${viewer}::uuid)`.execute(reader);
    const ids = r.rows.map((x) => x.id);
    stars.set(viewer, ids);
    return ids;
  }

  /**
   * Marks the viewer active (at most once per `activityRecheckMs`), so fan-out includes them again;
   * answers whether they were active before this read. A viewer this process saw within that time
   * is active without asking the database.
   */
  const seen = new Map<string, number>();
  async function touch(viewer: string): Promise<boolean> {
    const last = seen.get(viewer) ?? 0;
    if (Date.now() - last < options.activityRecheckMs) return true;
    const r = await sql<{
      ok: boolean;
    }>`SELECT last_seen_at > now() - make_interval(secs => ${options.inactiveMs / 1000}) AS ok
      FROM feed.activity WHERE user_id = ${viewer}::uuid`.execute(writer);
    seen.set(viewer, Date.now());
    if (seen.size > 100_000) seen.clear();
    await sql`INSERT INTO feed.activity (user_id, last_seen_at) VALUES (${viewer}::uuid, now())
      ON CONFLICT (user_id) DO UPDATE SET last_seen_at = now()`.execute(writer);
    return r.rows[0]?.ok === true;
  }

  const service: ServiceImpl<typeof FeedService> = {
    async getTimeline(req) {
      const viewer = requireUser().userId;
      const limit = limitOf(req.limit);
      const before = idCursor(req.cursor);
      // A returning user (inactive, so skipped by fan-out) finds a stale or missing timeline: rebuild it.
      const wasActive = await touch(viewer);
      if (!wasActive && !before) await markStale(writer, viewer);
      let stored = await store.page(viewer, before, limit);
      if (!stored) {
        await rebuild(viewer);
        stored = (await store.page(viewer, before, limit)) ?? [];
      }
      // Celebrities the viewer follows: their posts are merged here instead of fanned out.
      const stars = await followedCelebrities(viewer);
      const celebrity = stars.length
        ? await sql<{ id: string }>`SELECT p.post_id::text AS id FROM unnest(${stars}::uuid[]) AS s(id)
            JOIN LATERAL (SELECT post_id FROM feed.posts p WHERE p.author_id = s.id AND NOT p.deleted
              ${before ? sql`AND p.post_id < ${before}::uuid` : sql``} ORDER BY p.post_id DESC LIMIT ${limit}) p ON true`.execute(
            reader,
          )
        : { rows: [] as { id: string }[] };
      const merged = [...new Set([...stored, ...celebrity.rows.map((x) => x.id)])].sort().reverse().slice(0, limit);
      const last = merged[merged.length - 1];
      return { postIds: merged, nextCursor: merged.length === limit && last ? encode(last) : "" };
    },

    async getExplore(req) {
      const viewer = requireUser().userId;
      const limit = limitOf(req.limit);
      let after: { rank: number; id: string } | undefined;
      if (req.cursor) {
        const v = Buffer.from(req.cursor, "base64url").toString("utf8");
        const m = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?):([0-9a-f-]{36})$/.exec(v);
        if (req.cursor.length > 120 || !m || !UUID.test(m[2] as string)) {
          throw invalid("cursor", "is not a cursor from this list");
        }
        after = { rank: Number(m[1]), id: m[2] as string };
      }
      const r = await sql<{ id: string; rank: number }>`SELECT post_id::text AS id, hot_rank AS rank FROM feed.posts
        WHERE NOT deleted AND created_at > now() - interval '3 days'
          AND author_id NOT IN (SELECT author_id FROM feed.hidden WHERE viewer_id = ${viewer}::uuid)
          ${after ? sql`AND (hot_rank, post_id) < (${after.rank}::float8, ${after.id}::uuid)` : sql``}
        ORDER BY hot_rank DESC, post_id DESC LIMIT ${limit + 1}`.execute(reader);
      const page = r.rows.slice(0, limit);
      const cursors = page.map((x) => encode(`${x.rank}:${x.id}`));
      return {
        postIds: page.map((x) => x.id),
        cursors,
        nextCursor: r.rows.length > limit ? (cursors[cursors.length - 1] as string) : "",
      };
    },
  };

  return {
    service,
    consumers: [consumer],
    fanOut: (postId, authorId) => fanOut(postId, authorId),
    async refreshHotRanks() {
      await sql`UPDATE feed.posts SET hot_rank = feed.hot_rank(like_count + 2 * comment_count, created_at)
        WHERE NOT deleted AND created_at > now() - interval '3 days'`.execute(writer);
      await store.trim();
    },
  };
}
