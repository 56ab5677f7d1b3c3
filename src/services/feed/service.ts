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
import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { FeedService } from "../../gen/nova/feed/v1/feed_pb.ts";
import { ClampedCounters } from "../../platform/db/counters.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter, histogram } from "../../platform/observability/metrics.ts";
import {
  type CursorRule,
  decodeCursor,
  encodeCursor,
  ID,
  keysetPage,
  type PageSize,
  pageSize,
} from "../../platform/paging.ts";
import { optionalUser, requireUser } from "../../platform/rpc/context.ts";
import { isUuid } from "../../platform/validate.ts";
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

/** The columns explore names (as node-postgres reads them). */
type FeedTables = {
  "feed.posts": { post_id: string; author_id: string; hot_rank: number; deleted: boolean; created_at: Date };
  "feed.hidden": { viewer_id: string; author_id: string };
};

/** Timeline and explore pages. */
const PAGE: PageSize = { max: 50, dflt: 20 };
/** A position in explore: `hotRank:postId`. */
const RANKED = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?):([0-9a-f-]{36})$/;
const RANKED_CURSOR: CursorRule = { test: (v) => isUuid(RANKED.exec(v)?.[2] ?? "") };

const fanouts = counter("nova_feed_fanout_timelines_total", "Timelines a post was written to by fan-out");
const fanoutSeconds = histogram(
  "nova_feed_fanout_seconds",
  "Time to write one fan-out (the posts of a consumer batch)",
  [],
);
const rebuilds = counter("nova_feed_timeline_rebuilds_total", "Timelines rebuilt from Postgres on a miss");

function ids<N extends string[]>(p: Record<string, unknown>, ...names: N): { [K in keyof N]: string } {
  return names.map((n) => {
    const v = p[n];
    if (typeof v !== "string" || !isUuid(v)) throw new Error(`payload.${n} must be an id`);
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
  const activeFollowersOf = (author: RawBuilder<unknown>) => sql<{ id: string }>`SELECT f.follower_id::text AS id
      FROM feed.follows f JOIN feed.activity a ON a.user_id = f.follower_id
      WHERE f.followee_id = ${author}
        AND a.last_seen_at > now() - make_interval(secs => ${options.inactiveMs / 1000})`;
  const uuid = (id: string) => sql`${id}::uuid`;

  async function activeFollowers(db: Kysely<unknown>, authorId: string): Promise<string[]> {
    return (await activeFollowersOf(uuid(authorId)).execute(db)).rows.map((x) => x.id);
  }

  /** SQL: true when the author has more followers than the celebrity threshold (no fan-out then). */
  const celebrity = (author: RawBuilder<unknown>) =>
    sql<boolean>`coalesce((SELECT followers FROM feed.authors WHERE author_id = ${author}), 0)
      > ${options.celebrityThreshold}`;

  async function isCelebrity(db: Kysely<unknown>, authorId: string): Promise<boolean> {
    const r = await sql<{ celebrity: boolean }>`SELECT ${celebrity(uuid(authorId))} AS celebrity`.execute(db);
    return r.rows[0]?.celebrity === true;
  }

  async function fanOut(postId: string, authorId: string, db: Kysely<unknown> = writer): Promise<number> {
    if (await isCelebrity(db, authorId)) return 0;
    const followers = await activeFollowers(db, authorId);
    await writeFanOut([{ postId, authorId, followers }]);
    return followers.length;
  }

  /** Writes each post to its followers' timelines, and its author's own. */
  async function writeFanOut(posts: { postId: string; authorId: string; followers: string[] }[]): Promise<void> {
    if (posts.length === 0) return;
    const end = fanoutSeconds.startTimer();
    await store.fanOut(
      posts.map((p) => ({ postId: p.postId, authorId: p.authorId, userIds: [...p.followers, p.authorId] })),
    );
    for (const p of posts) fanouts.inc(p.followers.length + 1);
    end();
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
  const lockAuthors = (trx: Transaction<unknown>, authors: string[]) =>
    sql`SELECT pg_advisory_xact_lock(hashtextextended('feed:author:' || a, 0))
      FROM (SELECT DISTINCT a FROM unnest(${authors}::text[]) AS x(a) ORDER BY a) s`.execute(trx);
  const lockAuthor = (trx: Transaction<unknown>, author: string) => lockAuthors(trx, [author]);

  /**
   * Consecutive follows at once: the author locks (in id order), the follows and the authors' counts
   * in one statement; the new followees' recent posts join the followers' built timelines, and a
   * follow that took its author past the celebrity threshold adds none, as one at a time would.
   */
  async function follows(trx: Transaction<unknown>, pairs: [string, string][]) {
    for (const [user, target] of pairs) {
      stars.delete(user);
      stars.delete(target);
    }
    await lockAuthors(
      trx,
      pairs.map((p) => p[1]),
    );
    const r = await sql<{ user_id: string; target_id: string; followers: number }>`WITH f AS (
        INSERT INTO feed.follows (follower_id, followee_id)
        SELECT u, t FROM unnest(${pairs.map((p) => p[0])}::uuid[], ${pairs.map((p) => p[1])}::uuid[]) WITH ORDINALITY AS x(u, t, n)
        ORDER BY n ON CONFLICT DO NOTHING RETURNING follower_id, followee_id),
      c AS (
        INSERT INTO feed.authors AS a (author_id, followers) SELECT followee_id, count(*) FROM f GROUP BY followee_id
        ON CONFLICT (author_id) DO UPDATE SET followers = a.followers + EXCLUDED.followers RETURNING a.author_id, a.followers)
      SELECT f.follower_id::text AS user_id, f.followee_id::text AS target_id, c.followers
        FROM f JOIN c ON c.author_id = f.followee_id`.execute(trx);
    if (r.rows.length === 0) return;
    // The follower count each new follow left its author at, in event order (the last one at the end count).
    const inserted = new Set(r.rows.map((x) => `${x.user_id}:${x.target_id}`));
    const final = new Map(r.rows.map((x) => [x.target_id, x.followers]));
    const later = new Map<string, number>();
    for (const x of r.rows) later.set(x.target_id, (later.get(x.target_id) ?? 0) + 1);
    const added: [string, string][] = [];
    for (const [user, target] of pairs) {
      if (!inserted.delete(`${user}:${target}`)) continue; // already following, or a repeat in this run
      const left = (later.get(target) ?? 1) - 1;
      later.set(target, left);
      if ((final.get(target) ?? 0) - left <= options.celebrityThreshold) added.push([user, target]);
    }
    if (added.length === 0) return;
    // The followee's recent posts join the follower's timeline if it exists (else it is rebuilt on read).
    const built = await store.builtAmong([...new Set(added.map((p) => p[0]))]);
    const backfill = added.filter(([user]) => built.has(user));
    if (backfill.length === 0) return;
    const targets = [...new Set(backfill.map((p) => p[1]))];
    const recent = await sql<{ author_id: string; ids: string[] }>`SELECT t.id::text AS author_id,
        ARRAY(SELECT post_id::text FROM feed.posts WHERE author_id = t.id AND NOT deleted ORDER BY post_id DESC LIMIT 50) AS ids
      FROM unnest(${targets}::uuid[]) AS t(id)`.execute(trx);
    const postsOf = new Map(recent.rows.map((x) => [x.author_id, x.ids]));
    for (const [user, target] of backfill) {
      await store.add(
        user,
        (postsOf.get(target) ?? []).map((postId) => ({ postId, authorId: target })),
      );
    }
  }

  /**
   * Consecutive new posts at once: the author locks, the posts and (below the celebrity threshold)
   * each author's active followers in one statement; then their fan-out in one write.
   */
  async function posts(trx: Transaction<unknown>, list: { postId: string; authorId: string; created: string }[]) {
    await lockAuthors(
      trx,
      list.map((p) => p.authorId),
    );
    const r = await sql<{ post_id: string; author_id: string; followers: string[] | null }>`WITH ins AS (
        INSERT INTO feed.posts (post_id, author_id, created_at, hot_rank)
        SELECT p, a, c, feed.hot_rank(0, c)
          FROM unnest(${list.map((p) => p.postId)}::uuid[], ${list.map((p) => p.authorId)}::uuid[], ${list.map((p) => p.created)}::timestamptz[])
            WITH ORDINALITY AS x(p, a, c, n)
          ORDER BY n ON CONFLICT DO NOTHING RETURNING post_id, author_id)
      SELECT ins.post_id::text AS post_id, ins.author_id::text AS author_id,
        CASE WHEN ${celebrity(sql`ins.author_id`)} THEN NULL
          ELSE ARRAY(SELECT id FROM (${activeFollowersOf(sql`ins.author_id`)}) x) END AS followers
      FROM ins`.execute(trx);
    await writeFanOut(
      r.rows.flatMap((x) =>
        x.followers ? [{ postId: x.post_id, authorId: x.author_id, followers: x.followers }] : [],
      ),
    );
  }

  /** Consecutive like and comment counts at once, one statement for all their posts (see ClampedCounters). */
  async function engagement(trx: Transaction<unknown>, changes: { postId: string; likes: number; comments: number }[]) {
    const counts = new ClampedCounters(["likes", "comments"]);
    for (const c of changes) {
      counts.add(c.postId, "likes", c.likes);
      counts.add(c.postId, "comments", c.comments);
    }
    const { ids, sum, floor } = counts.columns();
    await sql`UPDATE feed.posts p SET like_count = greatest(x.lf, p.like_count + x.ls),
        comment_count = greatest(x.cf, p.comment_count + x.cs),
        hot_rank = feed.hot_rank(greatest(x.lf, p.like_count + x.ls) + 2 * greatest(x.cf, p.comment_count + x.cs), p.created_at)
      FROM unnest(${ids}::uuid[], ${sum.likes}::int[], ${floor.likes}::int[], ${sum.comments}::int[],
        ${floor.comments}::int[]) AS x(id, ls, lf, cs, cf)
      WHERE p.post_id = x.id`.execute(trx);
  }

  async function onRelationship(event: Envelope, trx: Transaction<unknown>) {
    const [user, target] = ids(event.payload, "userId", "targetId");
    // The viewer's followed celebrities may have changed (follow, unfollow, mute, block).
    stars.delete(user);
    stars.delete(target);
    if (event.type === "Unfollowed") await lockAuthor(trx, target);
    switch (event.type) {
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
      default:
        return;
    }
  }

  type Run =
    | { kind: "follow"; items: [string, string][] }
    | { kind: "post"; items: { postId: string; authorId: string; created: string }[] }
    | { kind: "engagement"; items: { postId: string; likes: number; comments: number }[] };

  /** The run an event joins (consecutive follows, new posts or counts are applied together), if any. */
  function runItem(event: Envelope): Run | undefined {
    const p = event.payload;
    if (event.aggregate_type === "relationship") {
      return event.type === "Followed" ? { kind: "follow", items: [ids(p, "userId", "targetId")] } : undefined;
    }
    switch (event.type) {
      case "PostCreated": {
        const [postId, authorId] = ids(p, "postId", "authorId");
        const created = typeof p.createdAt === "string" ? p.createdAt : event.occurred_at;
        return { kind: "post", items: [{ postId, authorId, created }] };
      }
      case "PostLiked":
      case "PostUnliked":
      case "CommentCreated":
      case "CommentDeleted": {
        const [postId] = ids(p, "postId");
        const d = event.type === "PostLiked" || event.type === "CommentCreated" ? 1 : -1;
        const likes = event.type.startsWith("Post") ? d : 0;
        return { kind: "engagement", items: [{ postId, likes, comments: d - likes }] };
      }
      default:
        return undefined;
    }
  }

  async function applyRun(trx: Transaction<unknown>, run: Run) {
    if (run.kind === "follow") await follows(trx, run.items);
    else if (run.kind === "post") await posts(trx, run.items);
    else await engagement(trx, run.items);
  }

  /** Events in order; consecutive ones of one run kind in one go (`handle` is the batch of one). */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    let run: Run | undefined;
    for (const event of events) {
      const item = runItem(event);
      if (item && run?.kind === item.kind) {
        (run.items as unknown[]).push(...item.items);
        continue;
      }
      if (run) await applyRun(trx, run);
      run = item;
      if (!item) await (event.aggregate_type === "relationship" ? onRelationship(event, trx) : onPost(event, trx));
    }
    if (run) await applyRun(trx, run);
  }

  // One consumer for both topics: in the embedded log they arrive in commit order.
  const consumer: EventHandler = {
    name: "feed.timelines",
    schema: "feed",
    topics: ["nova.graph.relationship", "nova.content.post"],
    handle: (event, trx) => apply([event], trx),
    handleBatch: (events, trx) => apply(events, trx),
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
      const limit = pageSize(req.limit, PAGE);
      const before = decodeCursor(req.cursor, ID);
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
      // A position is a post id (UUIDv7: time order); a full page may have more after it.
      const cursors = merged.map((id) => encodeCursor(id));
      return { postIds: merged, cursors, nextCursor: merged.length === limit ? (cursors[limit - 1] ?? "") : "" };
    },

    async getExplore(req) {
      // Visitors see explore too (as on Bluesky and Mastodon); a viewer's blocks and mutes hide authors.
      const viewer = optionalUser()?.userId;
      const limit = pageSize(req.limit, PAGE);
      const m = RANKED.exec(decodeCursor(req.cursor, RANKED_CURSOR) ?? "");
      const after = m ? { rank: Number(m[1]), id: m[2] as string } : undefined;
      let recent = reader
        .withTables<FeedTables>()
        .selectFrom("feed.posts as p")
        .select(["p.post_id", "p.hot_rank"])
        .where(sql<boolean>`NOT p.deleted AND p.created_at > now() - interval '3 days'`);
      if (viewer) {
        recent = recent.where("p.author_id", "not in", (eb) =>
          eb.selectFrom("feed.hidden as h").select("h.author_id").where("h.viewer_id", "=", viewer),
        );
      }
      const page = await keysetPage(recent, {
        key: ["p.hot_rank", "p.post_id"],
        after: after && [after.rank, after.id],
        limit,
        position: (x) => `${x.hot_rank}:${x.post_id}`,
      });
      return { postIds: page.rows.map((x) => x.post_id), cursors: page.cursors, nextCursor: page.nextCursor };
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
