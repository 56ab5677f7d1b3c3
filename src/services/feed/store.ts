/**
 * Timeline stores behind one interface. Members are post ids (UUIDv7, so
 * their order is time order) and a page is "the newest ids below a cursor
 * id": new posts land above every cursor, so paging never repeats or skips.
 *  - Redis (distributed): one sorted set per user with every score 0, read
 *    by lexicographic range; capped at `size` entries; it expires after
 *    `ttlMs` without writes or reads, and a missing one is rebuilt.
 *  - Postgres (embedded mode, or no Redis): rows in feed.timeline, capped by
 *    `trim()`.
 */
import type { Redis } from "ioredis";
import { type Kysely, sql } from "kysely";

export interface TimelineStore {
  readonly kind: "redis" | "postgres";
  /** Whether the user's timeline exists (else it must be rebuilt before reading). */
  built(userId: string): Promise<boolean>;
  /** Forgets that the timeline is built, so the next read rebuilds it. */
  invalidate(userId: string): Promise<void>;
  /** Replaces the user's timeline with these entries (newest first or any order). */
  rebuild(userId: string, entries: { postId: string; authorId: string }[]): Promise<void>;
  /** Adds one post to many timelines. */
  fanOut(userIds: string[], postId: string, authorId: string): Promise<void>;
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
}

const CHUNK = 1_000;

export function redisStore(redis: Redis, opts: { size: number; ttlMs: number }): TimelineStore {
  const key = (u: string) => `nova:feed:timeline:${u}:v1`;
  const mark = (u: string) => `nova:feed:timeline:${u}:built:v1`;
  const ttl = Math.ceil(opts.ttlMs / 1000);
  return {
    kind: "redis",
    async built(userId) {
      return (await redis.exists(mark(userId))) === 1;
    },
    async invalidate(userId) {
      await redis.del(mark(userId));
    },
    async rebuild(userId, entries) {
      const m = redis.multi().del(key(userId));
      if (entries.length) m.zadd(key(userId), ...entries.slice(0, opts.size).flatMap((e) => ["0", e.postId]));
      m.expire(key(userId), ttl).set(mark(userId), "1", "EX", ttl);
      await m.exec();
    },
    async fanOut(userIds, postId) {
      for (let i = 0; i < userIds.length; i += CHUNK) {
        const p = redis.pipeline();
        for (const u of userIds.slice(i, i + CHUNK)) {
          p.zadd(key(u), "0", postId)
            .zremrangebyrank(key(u), 0, -(opts.size + 1))
            .expire(key(u), ttl);
        }
        await p.exec();
      }
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
        .expire(key(userId), ttl)
        .expire(mark(userId), ttl)
        .exec();
      const [built, ids] = [r?.[0], r?.[1]];
      if (!built || built[0] || !ids || ids[0]) throw built?.[0] ?? ids?.[0] ?? new Error("timeline read aborted");
      return built[1] === 1 ? (ids[1] as string[]) : undefined;
    },
    async trim() {},
  };
}

export function postgresStore(db: Kysely<unknown>, opts: { size: number }): TimelineStore {
  return {
    kind: "postgres",
    async built(userId) {
      const r = await sql`SELECT 1 FROM feed.timeline_built WHERE user_id = ${userId}::uuid`.execute(db);
      return r.rows.length > 0;
    },
    async invalidate(userId) {
      await sql`DELETE FROM feed.timeline_built WHERE user_id = ${userId}::uuid`.execute(db);
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
    async fanOut(userIds, postId, authorId) {
      for (let i = 0; i < userIds.length; i += 10_000) {
        await sql`INSERT INTO feed.timeline (user_id, post_id, author_id)
          SELECT u, ${postId}::uuid, ${authorId}::uuid FROM unnest(${userIds.slice(i, i + 10_000)}::uuid[]) AS x(u)
          ON CONFLICT DO NOTHING`.execute(db);
      }
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
