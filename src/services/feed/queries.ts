/**
 * The feed's SQL, over its own tables (migrations/0001_init.sql): projections of the graph's and
 * content's events, activity, and explore's ranking. The timeline store (store.ts) owns
 * feed.timeline and feed.timeline_built.
 */
import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { ClampedCounters } from "../../platform/db/counters.ts";
import { keysetPage, type Page } from "../../platform/paging.ts";

/** The columns as node-postgres reads them. */
export type FeedTables = {
  "feed.follows": { follower_id: string; followee_id: string };
  "feed.authors": { author_id: string; followers: number };
  "feed.hidden": { viewer_id: string; author_id: string; reason: "mute" | "block" };
  "feed.posts": {
    post_id: string;
    author_id: string;
    created_at: Date;
    deleted: boolean;
    like_count: number;
    comment_count: number;
    hot_rank: number;
  };
  "feed.activity": { user_id: string; last_seen_at: Date };
};

export type Db = Kysely<unknown>;

/** The limits the queries apply (FeedOptions' share of them). */
export interface QueryOptions {
  celebrityThreshold: number;
  timelineSize: number;
  inactiveMs: number;
}

export interface PostEntry {
  postId: string;
  authorId: string;
}

const uuid = (id: string) => sql`${id}::uuid`;

/** The query for an author's active followers (seen within the inactivity window), as `id`. */
const activeFollowersOf = (author: RawBuilder<unknown>, inactiveMs: number) => sql<{
  id: string;
}>`SELECT f.follower_id::text AS id
    FROM feed.follows f JOIN feed.activity a ON a.user_id = f.follower_id
    WHERE f.followee_id = ${author}
      AND a.last_seen_at > now() - make_interval(secs => ${inactiveMs / 1000})`;

/** SQL: true when the author has more followers than the celebrity threshold (no fan-out then). */
const celebrity = (author: RawBuilder<unknown>, threshold: number) =>
  sql<boolean>`coalesce((SELECT followers FROM feed.authors WHERE author_id = ${author}), 0) > ${threshold}`;

/** The feed's queries (Immich's repository style): one method a statement, the limits from the options. */
export class FeedQueries {
  constructor(private readonly options: QueryOptions) {}

  /**
   * A follow and a post of the same author must not race (the fan-out would
   * miss the new follower and the follower's backfill would miss the post):
   * both take the author's transaction lock, so the later one sees the other.
   */
  lockAuthors(trx: Transaction<unknown>, authors: string[]) {
    return sql`SELECT pg_advisory_xact_lock(hashtextextended('feed:author:' || a, 0))
      FROM (SELECT DISTINCT a FROM unnest(${authors}::text[]) AS x(a) ORDER BY a) s`.execute(trx);
  }

  async activeFollowers(db: Db, authorId: string): Promise<string[]> {
    return (await activeFollowersOf(uuid(authorId), this.options.inactiveMs).execute(db)).rows.map((x) => x.id);
  }

  async isCelebrity(db: Db, authorId: string): Promise<boolean> {
    const r = await sql<{
      celebrity: boolean;
    }>`SELECT ${celebrity(uuid(authorId), this.options.celebrityThreshold)} AS celebrity`.execute(db);
    return r.rows[0]?.celebrity === true;
  }

  /** Posts of `authorId` a timeline may hold (the window a removal must cover). */
  async recentPostsOf(db: Db, authorId: string): Promise<string[]> {
    const r = await sql<{ id: string }>`SELECT post_id::text AS id FROM feed.posts
      WHERE author_id = ${authorId}::uuid ORDER BY post_id DESC LIMIT ${this.options.timelineSize}`.execute(db);
    return r.rows.map((x) => x.id);
  }

  async hide(trx: Transaction<unknown>, viewer: string, author: string, reason: "mute" | "block") {
    await sql`INSERT INTO feed.hidden (viewer_id, author_id, reason) VALUES (${viewer}::uuid, ${author}::uuid, ${reason})
      ON CONFLICT DO NOTHING`.execute(trx);
  }

  async unhide(trx: Transaction<unknown>, viewer: string, author: string, reason: "mute" | "block") {
    await sql`DELETE FROM feed.hidden WHERE viewer_id = ${viewer}::uuid AND author_id = ${author}::uuid
      AND reason = ${reason}`.execute(trx);
  }

  /**
   * The author's newest posts (as a follow's backfill) that the viewer's timeline holds again once
   * nothing hides them: none while the viewer does not follow the author, still hides them for the
   * other reason, or the author is a celebrity (merged at read time instead).
   */
  async restorablePostsOf(trx: Transaction<unknown>, viewer: string, author: string): Promise<string[]> {
    const r = await sql<{ id: string }>`SELECT post_id::text AS id FROM feed.posts
      WHERE author_id = ${author}::uuid AND NOT deleted
        AND EXISTS (SELECT 1 FROM feed.follows WHERE follower_id = ${viewer}::uuid AND followee_id = ${author}::uuid)
        AND NOT EXISTS (SELECT 1 FROM feed.hidden WHERE viewer_id = ${viewer}::uuid AND author_id = ${author}::uuid)
        AND NOT ${celebrity(uuid(author), this.options.celebrityThreshold)}
      ORDER BY post_id DESC LIMIT 50`.execute(trx);
    return r.rows.map((x) => x.id);
  }

  /** Inserts the follows (in order) and counts them on their authors: each new one with its author's count after. */
  async insertFollows(trx: Transaction<unknown>, pairs: [string, string][]) {
    const r = await sql<{ user_id: string; target_id: string; followers: number }>`WITH f AS (
        INSERT INTO feed.follows (follower_id, followee_id)
        SELECT u, t FROM unnest(${pairs.map((p) => p[0])}::uuid[], ${pairs.map((p) => p[1])}::uuid[]) WITH ORDINALITY AS x(u, t, n)
        ORDER BY n ON CONFLICT DO NOTHING RETURNING follower_id, followee_id),
      c AS (
        INSERT INTO feed.authors AS a (author_id, followers) SELECT followee_id, count(*) FROM f GROUP BY followee_id
        ON CONFLICT (author_id) DO UPDATE SET followers = a.followers + EXCLUDED.followers RETURNING a.author_id, a.followers)
      SELECT f.follower_id::text AS user_id, f.followee_id::text AS target_id, c.followers
        FROM f JOIN c ON c.author_id = f.followee_id`.execute(trx);
    return r.rows;
  }

  /** Each author's 50 newest posts that are not deleted (a new follow's backfill). */
  async newestPostsOf(trx: Transaction<unknown>, authors: string[]): Promise<Map<string, string[]>> {
    const r = await sql<{ author_id: string; ids: string[] }>`SELECT t.id::text AS author_id,
        ARRAY(SELECT post_id::text FROM feed.posts WHERE author_id = t.id AND NOT deleted ORDER BY post_id DESC LIMIT 50) AS ids
      FROM unnest(${authors}::uuid[]) AS t(id)`.execute(trx);
    return new Map(r.rows.map((x) => [x.author_id, x.ids]));
  }

  /** Deletes a follow; when there was one, its author's count drops. */
  async deleteFollow(trx: Transaction<unknown>, user: string, target: string) {
    const r = await sql`DELETE FROM feed.follows WHERE follower_id = ${user}::uuid AND followee_id = ${target}::uuid
        RETURNING follower_id`.execute(trx);
    if (r.rows.length) {
      await sql`UPDATE feed.authors SET followers = greatest(0, followers - 1) WHERE author_id = ${target}::uuid`.execute(
        trx,
      );
    }
  }

  /**
   * Inserts the posts (in order) with their first hot rank; each new one with its author's active
   * followers, or null when the author is a celebrity (no fan-out).
   */
  async insertPosts(trx: Transaction<unknown>, list: { postId: string; authorId: string; created: string }[]) {
    const r = await sql<{ post_id: string; author_id: string; followers: string[] | null }>`WITH ins AS (
        INSERT INTO feed.posts (post_id, author_id, created_at, hot_rank)
        SELECT p, a, c, feed.hot_rank(0, c)
          FROM unnest(${list.map((p) => p.postId)}::uuid[], ${list.map((p) => p.authorId)}::uuid[], ${list.map((p) => p.created)}::timestamptz[])
            WITH ORDINALITY AS x(p, a, c, n)
          ORDER BY n ON CONFLICT DO NOTHING RETURNING post_id, author_id)
      SELECT ins.post_id::text AS post_id, ins.author_id::text AS author_id,
        CASE WHEN ${celebrity(sql`ins.author_id`, this.options.celebrityThreshold)} THEN NULL
          ELSE ARRAY(SELECT id FROM (${activeFollowersOf(sql`ins.author_id`, this.options.inactiveMs)}) x) END AS followers
      FROM ins`.execute(trx);
    return r.rows;
  }

  /** Like and comment count changes, one statement for all their posts (see ClampedCounters). */
  async applyEngagement(trx: Transaction<unknown>, changes: { postId: string; likes: number; comments: number }[]) {
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

  async markDeleted(trx: Transaction<unknown>, postId: string) {
    await sql`UPDATE feed.posts SET deleted = true WHERE post_id = ${postId}::uuid`.execute(trx);
  }

  async purgePost(trx: Transaction<unknown>, postId: string) {
    await sql`DELETE FROM feed.posts WHERE post_id = ${postId}::uuid`.execute(trx);
  }

  async followersOf(trx: Transaction<unknown>, authorId: string): Promise<string[]> {
    const r = await sql<{ id: string }>`SELECT follower_id::text AS id FROM feed.follows
        WHERE followee_id = ${authorId}::uuid`.execute(trx);
    return r.rows.map((x) => x.id);
  }

  /** What the viewer's timeline holds when built from the projections (followed, not hidden, not deleted). */
  async timelineOf(db: Db, viewer: string): Promise<PostEntry[]> {
    const r = await sql<{
      post_id: string;
      author_id: string;
    }>`SELECT p.post_id::text AS post_id, p.author_id::text AS author_id
      FROM feed.posts p
      WHERE NOT p.deleted
        AND (p.author_id = ${viewer}::uuid OR p.author_id IN (SELECT followee_id FROM feed.follows WHERE follower_id = ${viewer}::uuid))
        AND p.author_id NOT IN (SELECT author_id FROM feed.hidden WHERE viewer_id = ${viewer}::uuid)
      ORDER BY p.post_id DESC LIMIT ${this.options.timelineSize}`.execute(db);
    return r.rows.map((x) => ({ postId: x.post_id, authorId: x.author_id }));
  }

  /** The celebrities a viewer follows and does not hide. */
  async followedCelebrities(db: Db, viewer: string): Promise<string[]> {
    const r = await sql<{ id: string }>`SELECT f.followee_id::text AS id FROM feed.follows f
        JOIN feed.authors a ON a.author_id = f.followee_id AND a.followers > ${this.options.celebrityThreshold}
      WHERE f.follower_id = ${viewer}::uuid
        AND f.followee_id NOT IN (SELECT author_id FROM feed.hidden WHERE viewer_id = ${viewer}::uuid)`.execute(db);
    return r.rows.map((x) => x.id);
  }

  /** Up to `limit` newest posts of each author below `before`, not deleted. */
  async postsOfAuthors(db: Db, authors: string[], before: string | undefined, limit: number): Promise<string[]> {
    const r = await sql<{ id: string }>`SELECT p.post_id::text AS id FROM unnest(${authors}::uuid[]) AS s(id)
        JOIN LATERAL (SELECT post_id FROM feed.posts p WHERE p.author_id = s.id AND NOT p.deleted
          ${before ? sql`AND p.post_id < ${before}::uuid` : sql``} ORDER BY p.post_id DESC LIMIT ${limit}) p ON true`.execute(
      db,
    );
    return r.rows.map((x) => x.id);
  }

  /**
   * The viewer's recorded activity: whether they were active (seen within the inactivity window) and
   * how long ago they were seen; undefined when never.
   */
  async activityOf(db: Db, viewer: string): Promise<{ active: boolean; ageMs: number } | undefined> {
    const r = await sql<{ active: boolean; age_ms: number }>`SELECT
        last_seen_at > now() - make_interval(secs => ${this.options.inactiveMs / 1000}) AS active,
        (extract(epoch FROM now() - last_seen_at) * 1000)::float8 AS age_ms
      FROM feed.activity WHERE user_id = ${viewer}::uuid`.execute(db);
    const row = r.rows[0];
    return row && { active: row.active === true, ageMs: Number(row.age_ms) };
  }

  /**
   * The lock between fan-out and a reader coming back: every consumer batch holds it shared, a
   * reader's PrepareTimeline that must rebuild holds it alone while it records the activity and
   * rebuilds. So a batch that saw the reader inactive has committed (its posts are in the
   * projections the rebuild reads), and a later batch sees the reader active and appends after it.
   */
  async lockFanOut(trx: Db, exclusive: boolean) {
    await (exclusive
      ? sql`SELECT pg_advisory_xact_lock(hashtextextended('nova:feed:fan-out', 0))`
      : sql`SELECT pg_advisory_xact_lock_shared(hashtextextended('nova:feed:fan-out', 0))`
    ).execute(trx);
  }

  async recordActivity(db: Db, viewer: string) {
    await sql`INSERT INTO feed.activity (user_id, last_seen_at) VALUES (${viewer}::uuid, now())
      ON CONFLICT (user_id) DO UPDATE SET last_seen_at = now()`.execute(db);
  }

  /** Explore: the last 3 days by hot rank, without the viewer's hidden authors. */
  async explorePage(
    db: Db,
    viewer: string | undefined,
    after: { rank: number; id: string } | undefined,
    limit: number,
  ): Promise<Page<{ post_id: string; hot_rank: number }>> {
    let recent = db
      .withTables<FeedTables>()
      .selectFrom("feed.posts as p")
      .select(["p.post_id", "p.hot_rank"])
      .where(sql<boolean>`NOT p.deleted AND p.created_at > now() - interval '3 days'`);
    if (viewer) {
      recent = recent.where("p.author_id", "not in", (eb) =>
        eb.selectFrom("feed.hidden as h").select("h.author_id").where("h.viewer_id", "=", viewer),
      );
    }
    return await keysetPage(recent, {
      key: ["p.hot_rank", "p.post_id"],
      after: after && [after.rank, after.id],
      limit,
      position: (x) => `${x.hot_rank}:${x.post_id}`,
    });
  }

  /** Hot ranks decay with time: recomputed for the posts explore still shows. */
  async refreshHotRanks(db: Db) {
    await sql`UPDATE feed.posts SET hot_rank = feed.hot_rank(like_count + 2 * comment_count, created_at)
      WHERE NOT deleted AND created_at > now() - interval '3 days'`.execute(db);
  }
}

// ---- account erasure (identity's AccountErased)

/**
 * Deletes the feed's projections of an erased user: their follows both ways (the authors they
 * followed count one follower fewer), what they hid and who hid them, their posts, their activity.
 * Answers their followers and posts as they were, for the timeline store. Idempotent.
 */
export async function eraseProjections(
  trx: Transaction<unknown>,
  userId: string,
): Promise<{ followers: string[]; postIds: string[] }> {
  const followers = await sql<{ id: string }>`SELECT follower_id::text AS id FROM feed.follows
    WHERE followee_id = ${userId}::uuid`.execute(trx);
  const posts = await sql<{ id: string }>`DELETE FROM feed.posts WHERE author_id = ${userId}::uuid
    RETURNING post_id::text AS id`.execute(trx);
  const followed = await sql<{ id: string }>`DELETE FROM feed.follows WHERE follower_id = ${userId}::uuid
    RETURNING followee_id::text AS id`.execute(trx);
  const ids = followed.rows.map((r) => r.id).sort();
  if (ids.length) {
    await sql`UPDATE feed.authors SET followers = GREATEST(0, followers - 1)
      WHERE author_id = ANY(${ids}::uuid[])`.execute(trx);
  }
  await sql`DELETE FROM feed.follows WHERE followee_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM feed.authors WHERE author_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM feed.hidden WHERE viewer_id = ${userId}::uuid OR author_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM feed.activity WHERE user_id = ${userId}::uuid`.execute(trx);
  return { followers: followers.rows.map((r) => r.id), postIds: posts.rows.map((r) => r.id) };
}
