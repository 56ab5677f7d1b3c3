/**
 * Timeline stores behind one interface. Members are post ids (UUIDv7, so
 * their order is time order) and a page is "the newest ids below a cursor
 * id": new posts land above every cursor, so paging never repeats or skips.
 *  - Redis (distributed): one sorted set per user with every score 0, read
 *    by lexicographic range; capped at `size` entries; it expires after
 *    `ttlMs` without writes or `keep` (PrepareTimeline, while its owner
 *    reads), and a missing one is rebuilt.
 *  - Postgres (embedded mode, or no Redis): rows in feed.timeline, capped by
 *    `trim()`.
 */
import type { Redis } from "ioredis";
import { type Kysely, sql } from "kysely";

/** A post and the timelines it goes to. */
export interface FanOut {
  postId: string;
  authorId: string;
  userIds: string[];
}

export interface TimelineStore {
  readonly kind: "redis" | "postgres";
  /** The users among these whose timeline exists (else it must be rebuilt before reading). */
  builtAmong(userIds: string[]): Promise<Set<string>>;
  /**
   * Keeps a built timeline from expiring while its owner reads it (reads write nothing); answers
   * whether it is built (else it must be rebuilt).
   */
  keep(userId: string): Promise<boolean>;
  /** Replaces the user's timeline with these entries (newest first or any order). */
  rebuild(userId: string, entries: { postId: string; authorId: string }[]): Promise<void>;
  /** Adds each post to its list of timelines. */
  fanOut(posts: FanOut[]): Promise<void>;
  /** Adds posts to one timeline. */
  add(userId: string, entries: { postId: string; authorId: string }[]): Promise<void>;
  /** Removes posts from one user's timeline (all of `authorId`'s when given). */
  remove(userId: string, postIds: string[], authorId?: string): Promise<void>;
  /** Removes one post from the given timelines. */
  removePost(userIds: string[], postId: string): Promise<void>;
  /**
   * Up to `limit` post ids below `before` (exclusive), newest first; undefined when the timeline is
   * not built (one round trip answers both).
   */
  page(userId: string, before: string | undefined, limit: number): Promise<string[] | undefined>;
  /** Drops entries beyond the cap (the Postgres store; Redis trims on write). */
  trim(): Promise<void>;
  /**
   * An erased account: its own timeline goes, and its posts (`postIds`, by `userId`) leave the
   * timelines of `followers` (the Postgres store finds them by author in every timeline).
   */
  erase(userId: string, followers: string[], postIds: string[]): Promise<void>;
}

const CHUNK = 1_000;

export function redisStore(redis: Redis, opts: { size: number; ttlMs: number }): TimelineStore {
  const key = (u: string) => `nova:feed:timeline:${u}:v1`;
  const mark = (u: string) => `nova:feed:timeline:${u}:built:v1`;
  const ttl = Math.ceil(opts.ttlMs / 1000);
  return {
    kind: "redis",
    async builtAmong(userIds) {
      const p = redis.pipeline();
      for (const u of userIds) p.exists(mark(u));
      const r = (await p.exec()) ?? [];
      return new Set(userIds.filter((_, i) => r[i]?.[1] === 1));
    },
    async keep(userId) {
      const r = await redis.multi().expire(key(userId), ttl).expire(mark(userId), ttl).exec();
      const built = r?.[1];
      if (!built || built[0]) throw built?.[0] ?? new Error("timeline keep aborted");
      return built[1] === 1;
    },
    async rebuild(userId, entries) {
      const m = redis.multi().del(key(userId));
      if (entries.length) m.zadd(key(userId), ...entries.slice(0, opts.size).flatMap((e) => ["0", e.postId]));
      m.expire(key(userId), ttl).set(mark(userId), "1", "EX", ttl);
      await m.exec();
    },
    async fanOut(posts) {
      let p = redis.pipeline();
      let n = 0;
      for (const { postId, userIds } of posts) {
        for (const u of userIds) {
          p.zadd(key(u), "0", postId)
            .zremrangebyrank(key(u), 0, -(opts.size + 1))
            .expire(key(u), ttl);
          if (++n % CHUNK === 0) {
            await p.exec();
            p = redis.pipeline();
          }
        }
      }
      if (n % CHUNK !== 0) await p.exec();
    },
    async add(userId, entries) {
      if (entries.length === 0) return;
      await redis
        .multi()
        .zadd(key(userId), ...entries.flatMap((e) => ["0", e.postId]))
        .zremrangebyrank(key(userId), 0, -(opts.size + 1))
        .expire(key(userId), ttl)
        .exec();
    },
    async remove(userId, postIds) {
      for (let i = 0; i < postIds.length; i += CHUNK) await redis.zrem(key(userId), ...postIds.slice(i, i + CHUNK));
    },
    async removePost(userIds, postId) {
      for (let i = 0; i < userIds.length; i += CHUNK) {
        const p = redis.pipeline();
        for (const u of userIds.slice(i, i + CHUNK)) p.zrem(key(u), postId);
        await p.exec();
      }
    },
    async page(userId, before, limit) {
      const r = await redis
        .multi()
        .exists(mark(userId))
        .zrevrangebylex(key(userId), before ? `(${before}` : "+", "-", "LIMIT", 0, limit)
        .exec();
      const [built, ids] = [r?.[0], r?.[1]];
      if (!built || built[0] || !ids || ids[0]) throw built?.[0] ?? ids?.[0] ?? new Error("timeline read aborted");
      return built[1] === 1 ? (ids[1] as string[]) : undefined;
    },
    async trim() {},
    async erase(userId, followers, postIds) {
      await redis.del(key(userId), mark(userId));
      if (postIds.length) for (const f of followers) await this.remove(f, postIds);
    },
  };
}

export function postgresStore(db: Kysely<unknown>, opts: { size: number }): TimelineStore {
  return {
    kind: "postgres",
    async builtAmong(userIds) {
      const r = await sql<{ id: string }>`SELECT user_id::text AS id FROM feed.timeline_built
        WHERE user_id = ANY(${userIds}::uuid[])`.execute(db);
      return new Set(r.rows.map((x) => x.id));
    },
    async keep(userId) {
      // Rows do not expire (trim() caps them): only whether it is built.
      const r = await sql<{ built: boolean }>`SELECT EXISTS (SELECT 1 FROM feed.timeline_built
        WHERE user_id = ${userId}::uuid) AS built`.execute(db);
      return r.rows[0]?.built === true;
    },
    async rebuild(userId, entries) {
      await db.transaction().execute(async (trx) => {
        await sql`DELETE FROM feed.timeline WHERE user_id = ${userId}::uuid`.execute(trx);
        const e = entries.slice(0, opts.size);
        if (e.length) {
          await sql`INSERT INTO feed.timeline (user_id, post_id, author_id)
            SELECT ${userId}::uuid, p, a FROM unnest(${e.map((x) => x.postId)}::uuid[], ${e.map((x) => x.authorId)}::uuid[]) AS x(p, a)
            ON CONFLICT DO NOTHING`.execute(trx);
        }
        await sql`INSERT INTO feed.timeline_built (user_id) VALUES (${userId}::uuid)
          ON CONFLICT (user_id) DO UPDATE SET built_at = now()`.execute(trx);
      });
    },
    async fanOut(posts) {
      // Rows of up to 10,000 (user, post, author) at a time: one statement for many small fan-outs.
      const rows = { u: [] as string[], p: [] as string[], a: [] as string[] };
      const flush = async () => {
        if (rows.u.length === 0) return;
        await sql`INSERT INTO feed.timeline (user_id, post_id, author_id)
          SELECT * FROM unnest(${rows.u}::uuid[], ${rows.p}::uuid[], ${rows.a}::uuid[])
          ON CONFLICT DO NOTHING`.execute(db);
        rows.u = [];
        rows.p = [];
        rows.a = [];
      };
      for (const { postId, authorId, userIds } of posts) {
        for (const u of userIds) {
          rows.u.push(u);
          rows.p.push(postId);
          rows.a.push(authorId);
          if (rows.u.length >= 10_000) await flush();
        }
      }
      await flush();
    },
    async add(userId, entries) {
      if (entries.length === 0) return;
      await sql`INSERT INTO feed.timeline (user_id, post_id, author_id)
        SELECT ${userId}::uuid, p, a FROM unnest(${entries.map((e) => e.postId)}::uuid[], ${entries.map((e) => e.authorId)}::uuid[]) AS x(p, a)
        ON CONFLICT DO NOTHING`.execute(db);
    },
    async remove(userId, postIds, authorId) {
      if (authorId) {
        await sql`DELETE FROM feed.timeline WHERE user_id = ${userId}::uuid AND author_id = ${authorId}::uuid`.execute(
          db,
        );
      }
      if (postIds.length) {
        await sql`DELETE FROM feed.timeline WHERE user_id = ${userId}::uuid AND post_id = ANY(${postIds}::uuid[])`.execute(
          db,
        );
      }
    },
    async erase(userId) {
      await sql`DELETE FROM feed.timeline WHERE user_id = ${userId}::uuid OR author_id = ${userId}::uuid`.execute(db);
      await sql`DELETE FROM feed.timeline_built WHERE user_id = ${userId}::uuid`.execute(db);
    },
    async removePost(_userIds, postId) {
      await sql`DELETE FROM feed.timeline WHERE post_id = ${postId}::uuid`.execute(db);
    },
    async page(userId, before, limit) {
      const r = await sql<{ built: boolean; ids: string[] }>`SELECT
          EXISTS (SELECT 1 FROM feed.timeline_built WHERE user_id = ${userId}::uuid) AS built,
          ARRAY(SELECT post_id::text AS id FROM feed.timeline
            WHERE user_id = ${userId}::uuid ${before ? sql`AND post_id < ${before}::uuid` : sql``}
            ORDER BY post_id DESC LIMIT ${limit}) AS ids`.execute(db);
      const row = r.rows[0];
      return row?.built ? row.ids : undefined;
    },
    async trim() {
      // Users over the cap, then their entries beyond it.
      await sql`DELETE FROM feed.timeline t USING (
          SELECT user_id, post_id FROM (
            SELECT user_id, post_id, row_number() OVER (PARTITION BY user_id ORDER BY post_id DESC) AS n
              FROM feed.timeline WHERE user_id IN (
                SELECT user_id FROM feed.timeline GROUP BY user_id HAVING count(*) > ${opts.size}))
            x WHERE n > ${opts.size}) old
        WHERE t.user_id = old.user_id AND t.post_id = old.post_id`.execute(db);
    },
  };
}
