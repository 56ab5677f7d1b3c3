/**
 * The two-tier cache, side by side in one run, on the harness's PostgreSQL and
 * Redis (a fresh database with 10,000 posts; 1,000 with --quick), 32 reads in
 * flight:
 *
 * 1. The mechanism: `entity.get(id, loader)` where the loader is the content
 *    service's post query on PostgreSQL.
 *    - `loader`: the loader alone (no cache);
 *    - `l1only`: L1 only (no Redis), every post in L1;
 *    - `l2hit`: L1 + L2 with L1 cold (one entry) and every post in L2, so each
 *      read misses L1 and is answered by Redis.
 * 2. GetPost through the content service's handler on a hot working set (80 %
 *    of reads on 10 % of the posts), caches warmed first: L1 + L2, L2 only,
 *    no cache, with hit ratios (issue 4's fields). L1 entries of posts live
 *    15 s, so over a longer run they expire and refill from L2.
 *
 * Latencies go into node:perf_hooks histograms; figures are ops/s, p50 and p99.
 */
import { randomBytes } from "node:crypto";
import { createHistogram } from "node:perf_hooks";
import { ensureServices } from "../scripts/services.ts";
import { type Cache, createCache } from "../src/platform/cache/cache.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { registry } from "../src/platform/observability/metrics.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { type ContentTables, loadPosts, type PostRow } from "../src/services/content/queries.ts";
import { createContentService } from "../src/services/content/service.ts";
import { scratchDatabase } from "./lib.ts";

const log = createLogger({ level: "error" });
const say = (m: string) => process.stderr.write(`cache: ${m}\n`);
const CONCURRENCY = 32;
const round = (x: number) => Math.round(x * 1000) / 1000;

interface Figures {
  ops_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

/** Runs `op` with CONCURRENCY workers for `seconds`. */
async function measure(name: string, seconds: number, op: () => Promise<unknown>): Promise<Figures> {
  const h = createHistogram();
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op();
        } catch {
          errors++;
        }
        h.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)));
      }
    }),
  );
  const f = {
    ops_s: Math.round(h.count / seconds),
    p50_ms: round(h.percentile(50) / 1e6),
    p99_ms: round(h.percentile(99) / 1e6),
    errors,
  };
  say(`${name}: ${f.ops_s} ops/s, p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms, errors ${errors}`);
  return f;
}

/** nova_cache_requests_total by tier and result, now. */
async function counters(): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric("nova_cache_requests_total")?.get();
  const out: Record<string, number> = {};
  for (const v of m?.values ?? []) {
    const k = `${v.labels.tier}_${v.labels.result}`;
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

function hitRatio(before: Record<string, number>, after: Record<string, number>, tier: string): number {
  const d = (k: string) => (after[`${tier}_${k}`] ?? 0) - (before[`${tier}_${k}`] ?? 0);
  const total = d("hit") + d("miss") + d("error");
  return total ? round(d("hit") / total) : 0;
}

function errorRatio(before: Record<string, number>, after: Record<string, number>, tier: string): number {
  const d = (k: string) => (after[`${tier}_${k}`] ?? 0) - (before[`${tier}_${k}`] ?? 0);
  const total = d("hit") + d("miss") + d("error");
  return total ? round(d("error") / total) : 0;
}

/** Milliseconds from `invalidate` on replica a until replica b's L1 serves the new value, `n` times. */
async function invalidationLatency(a: Cache, b: Cache, n: number) {
  if (!(await a.ready()) || !(await b.ready())) throw new Error("Redis is not reachable");
  const h = createHistogram();
  const ea = a.entity<{ v: number }>("bench", "inv");
  const eb = b.entity<{ v: number }>("bench", "inv");
  for (let i = 0; i < n; i++) {
    const id = `k${randomBytes(6).toString("hex")}`;
    let v = 1;
    const load = async () => ({ v });
    await eb.get(id, load);
    v = 2;
    const t0 = performance.now();
    await ea.invalidate([id]);
    while ((await eb.get(id, load))?.v !== 2) {
      if (performance.now() - t0 > 5_000) throw new Error("an invalidation did not arrive within 5 s");
      await new Promise((r) => setImmediate(r));
    }
    h.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
  }
  const ms = (q: number) => round(h.percentile(q) / 1000);
  say(`invalidation across replicas: p50 ${ms(50)} ms, p99 ${ms(99)} ms (${n})`);
  return { samples: n, p50_ms: ms(50), p99_ms: ms(99) };
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const s = await ensureServices();
  const scratch = await scratchDatabase(s.postgres, { poolMax: 10, applicationName: "bench-cache" });
  const db = scratch.db;
  const caches: Cache[] = [];
  const cache = (opts: Partial<Parameters<typeof createCache>[0]>) => {
    const c = createCache({ log, name: "bench", ...opts });
    caches.push(c);
    return c;
  };
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
    const any = () => ids[Math.floor(Math.random() * ids.length)] as string;
    const hot = ids.slice(0, Math.ceil(ids.length / 10));
    const pick = () => (Math.random() < 0.8 ? (hot[Math.floor(Math.random() * hot.length)] as string) : any());
    const k = db.kysely<ContentTables>();
    // Each run uses its own key version, so nothing from an earlier run is in Redis.
    const version = Number.parseInt(randomBytes(3).toString("hex"), 16) + 1;
    const loadOne = (id: string) => async () => (await loadPosts(k.writer, [id])).get(id);

    // 1. The mechanism.
    const mSeconds = quick ? 4 : 10;
    // Warm-up (JIT, pool connections, PostgreSQL's buffers): not measured.
    await measure("warm-up", 1, () => loadOne(any())());
    const loader = await measure("loader only", mSeconds, () => loadOne(any())());

    const l1c = cache({ l2: false });
    const l1e = l1c.entity<PostRow>("content", "post", version);
    await l1e.getMany(ids, (missing) => loadPosts(k.writer, missing));
    let c0 = await counters();
    const l1only = await measure("L1 only (all in L1)", mSeconds, () => {
      const id = any();
      return l1e.get(id, loadOne(id));
    });
    const l1onlyHit = hitRatio(c0, await counters(), "l1");

    const l2c = cache({ redisUrl: s.redis, l1MaxEntries: 1 });
    if (!(await l2c.ready())) throw new Error("Redis is not reachable");
    const l2e = l2c.entity<PostRow>("content", "post", version + 1);
    await l2e.getMany(ids, (missing) => loadPosts(k.writer, missing));
    c0 = await counters();
    const l2hit = await measure("L1 cold, L2 hit", mSeconds, () => {
      const id = any();
      return l2e.get(id, loadOne(id));
    });
    const c1 = await counters();
    const l2hitL1 = hitRatio(c0, c1, "l1");
    const l2hitL2 = hitRatio(c0, c1, "l2");

    // 2. GetPost through the content service on a hot working set.
    const outbox = createOutbox({ service: "content", schema: "content" });
    const peers = {
      blockedBetween: async () => new Set<string>(),
      resolveUsernames: async () => new Map(),
      mediaOf: async () => new Map(),
      attachMedia: async () => undefined,
    };
    const seconds = quick ? 5 : 15;
    const getPost = async (name: string, c: Cache | undefined, v: number) => {
      const entity = c?.entity<PostRow>("content", "post", v);
      const svc = createContentService(
        { db: k, outbox, peers },
        entity
          ? { posts: (x) => entity.getMany(x, (missing) => loadPosts(k.writer, missing)) }
          : { posts: (x) => loadPosts(k.writer, x) },
      );
      if (c && !(await c.ready())) throw new Error("Redis is not reachable");
      // Steady state: the cache starts warm (every post read once), as it is in a running service.
      if (entity) await entity.getMany(ids, (missing) => loadPosts(k.writer, missing));
      const before = await counters();
      const f = await measure(name, seconds, async () => svc.getPost({ postId: pick() } as never, {} as never));
      return { ...f, before, after: await counters() };
    };
    const l1l2 = await getPost("GetPost, L1 + L2", cache({ redisUrl: s.redis }), version + 2);
    const l2 = await getPost("GetPost, L2 only", cache({ redisUrl: s.redis, l1: false }), version + 3);
    const none = await getPost("GetPost, no cache", undefined, 0);

    // 3. Invalidation across replicas: a write on one, until the other serves the new value.
    const inv = await invalidationLatency(
      cache({ redisUrl: s.redis }),
      cache({ redisUrl: s.redis }),
      quick ? 100 : 500,
    );

    return {
      quick,
      posts,
      concurrency: CONCURRENCY,
      mechanism_seconds_per_variant: mSeconds,
      loader_ops_s: loader.ops_s,
      loader_p50_ms: loader.p50_ms,
      loader_p99_ms: loader.p99_ms,
      l1only_ops_s: l1only.ops_s,
      l1only_p50_ms: l1only.p50_ms,
      l1only_p99_ms: l1only.p99_ms,
      l1only_l1_hit_ratio: l1onlyHit,
      l2hit_ops_s: l2hit.ops_s,
      l2hit_p50_ms: l2hit.p50_ms,
      l2hit_p99_ms: l2hit.p99_ms,
      l2hit_l1_hit_ratio: l2hitL1,
      l2hit_l2_hit_ratio: l2hitL2,
      invalidation_samples: inv.samples,
      invalidation_p50_ms: inv.p50_ms,
      invalidation_p99_ms: inv.p99_ms,
      getpost_seconds_per_variant: seconds,
      l1l2_rps: l1l2.ops_s,
      l1l2_p50_ms: l1l2.p50_ms,
      l1l2_p99_ms: l1l2.p99_ms,
      l2_rps: l2.ops_s,
      l2_p50_ms: l2.p50_ms,
      l2_p99_ms: l2.p99_ms,
      nocache_rps: none.ops_s,
      nocache_p50_ms: none.p50_ms,
      nocache_p99_ms: none.p99_ms,
      l1_hit_ratio: hitRatio(l1l2.before, l1l2.after, "l1"),
      // Measured in the L2-only run (with L1 in front, L2 sees only L1's misses).
      l2_hit_ratio: hitRatio(l2.before, l2.after, "l2"),
      // L2 reads that failed or were skipped by an open breaker, in the L2-only run.
      l2_error_ratio: errorRatio(l2.before, l2.after, "l2"),
      speedup_l1l2_vs_nocache: round(l1l2.ops_s / Math.max(1, none.ops_s)),
      errors: [loader, l1only, l2hit, l1l2, l2, none].reduce((a, f) => a + f.errors, 0),
    };
  } finally {
    for (const c of caches) await c.close();
    await scratch.drop();
  }
}
