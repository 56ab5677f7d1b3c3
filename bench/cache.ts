/**
 * GetPost through the content service's handler, side by side: L1 + L2
 * (Redis), L2 only, and no cache, on a hot working set (80 % of reads on 10 %
 * of the posts), in a fresh database on the harness's PostgreSQL and Redis.
 * Reads are anonymous (no block lookups), 32 in flight.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { ensureServices } from "../scripts/services.ts";
import { Cache } from "../src/platform/cache/cache.ts";
import { Database } from "../src/platform/db/pool.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { createContentService, loadPosts, type PostRow } from "../src/services/content/service.ts";

const log = createLogger({ level: "error" });
const say = (m: string) => process.stderr.write(`cache: ${m}\n`);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 100) / 100;
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const s = await ensureServices();
  const dbName = `nova_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: s.postgres });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(s.postgres);
  u.pathname = `/${dbName}`;
  const db = new Database({ writerUrl: u.toString(), poolMax: 10, applicationName: "bench-cache" });
  try {
    await runMigrations(db, ["content"], log);
    const posts = quick ? 1_000 : 10_000;
    const author = "0190c7a4-0000-7000-8000-000000000001";
    await db.writerPool.query(
      `INSERT INTO content.posts (author_id, text, hashtags) SELECT $1::uuid, 'post ' || g || ' ' || repeat('lorem ipsum ', 20), '{bench}'
         FROM generate_series(1, $2) g`,
      [author, posts],
    );
    const ids = (await db.writerPool.query<{ id: string }>("SELECT id::text AS id FROM content.posts")).rows.map(
      (r) => r.id,
    );
    const hot = ids.slice(0, Math.ceil(ids.length / 10));
    const pick = () =>
      Math.random() < 0.8
        ? (hot[Math.floor(Math.random() * hot.length)] as string)
        : (ids[Math.floor(Math.random() * ids.length)] as string);
    const k = db.kysely<unknown>();
    const outbox = createOutbox({ service: "content", schema: "content" });
    const peers = { blockedBetween: async () => new Set<string>(), resolveUsernames: async () => new Map() };
    const seconds = quick ? 5 : 15;

    const variant = async (name: string, cache: Cache | undefined) => {
      const entity = cache?.entity<PostRow>("content", "post", 1);
      const svc = createContentService(
        { db: k, outbox, peers },
        entity
          ? { posts: (x) => entity.getMany(x, (missing) => loadPosts(k.writer, missing)) }
          : { posts: (x) => loadPosts(k.writer, x) },
      );
      if (cache) await cache.ready();
      const lat: number[] = [];
      const end = performance.now() + seconds * 1000;
      let errors = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            try {
              await svc.getPost({ postId: pick() } as never, {} as never);
            } catch {
              errors++;
            }
            lat.push(performance.now() - t0);
          }
        }),
      );
      const rps = Math.round(lat.length / seconds);
      say(`${name}: ${rps} GetPost/s, p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, errors ${errors}`);
      return { rps, p50: pct(lat, 50), p99: pct(lat, 99), errors };
    };

    const counters = async () => {
      const { registry } = await import("../src/platform/observability/metrics.ts");
      const m = await registry.getSingleMetric("nova_cache_requests_total")?.get();
      const v = (tier: string, result: string) =>
        m?.values
          .filter((x) => x.labels.tier === tier && x.labels.result === result)
          .reduce((a, x) => a + x.value, 0) ?? 0;
      return { l1hit: v("l1", "hit"), l1miss: v("l1", "miss"), l2hit: v("l2", "hit"), l2miss: v("l2", "miss") };
    };

    const c0 = await counters();
    const both = new Cache({ redisUrl: s.redis, log });
    const l1l2 = await variant("L1 + L2", both);
    const c1 = await counters();
    await both.close();
    const l2cache = new Cache({ redisUrl: s.redis, log, l1: false });
    const l2 = await variant("L2 only", l2cache);
    const c2 = await counters();
    await l2cache.close();
    const none = await variant("no cache", undefined);
    const l1Total = c1.l1hit - c0.l1hit + (c1.l1miss - c0.l1miss);
    // L2's ratio is measured in the L2-only run (with L1 in front, L2 sees only L1's misses).
    const l2Total = c2.l2hit - c1.l2hit + (c2.l2miss - c1.l2miss);
    return {
      quick,
      posts,
      seconds_per_variant: seconds,
      concurrency: 32,
      l1l2_rps: l1l2.rps,
      l1l2_p50_ms: l1l2.p50,
      l1l2_p99_ms: l1l2.p99,
      l2_rps: l2.rps,
      l2_p50_ms: l2.p50,
      l2_p99_ms: l2.p99,
      nocache_rps: none.rps,
      nocache_p50_ms: none.p50,
      nocache_p99_ms: none.p99,
      l1_hit_ratio: l1Total ? Math.round(((c1.l1hit - c0.l1hit) / l1Total) * 1000) / 1000 : 0,
      l2_hit_ratio: l2Total ? Math.round(((c2.l2hit - c1.l2hit) / l2Total) * 1000) / 1000 : 0,
      speedup_l1l2_vs_nocache: Math.round((l1l2.rps / Math.max(1, none.rps)) * 10) / 10,
      errors: l1l2.errors + l2.errors + none.errors,
    };
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
