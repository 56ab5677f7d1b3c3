/**
 * Search: seed a dataset (`nova seed`'s code: 10k users, 100k posts over 30
 * days; --quick: 2k / 20k), let the search consumer build its projection from
 * the seeded events, then drive the SearchService RPCs directly (in-process
 * Connect transport: interceptors, protobuf encoding, the service and
 * PostgreSQL; no gateway, no hydration) with a closed loop of concurrent
 * callers (latency with 2, the number of cores; throughput with 8), and
 * rebuild the projection with `nova search reindex`'s job.
 *
 * User queries mix exact usernames, prefixes, display-name words and typos;
 * post queries mix the seeded hashtags' words (each in ~8% of the posts),
 * stop words (in nearly every post), web-search syntax and words in no post.
 * The load generator shares the 2 cores with Nova and PostgreSQL.
 */
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { ensureServices } from "../scripts/services.ts";
import { seed } from "../src/cli/seed.ts";
import { SearchService } from "../src/gen/nova/search/v1/search_pb.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { createTransport, serviceClient } from "../src/platform/rpc/client.ts";
import { runWithCall } from "../src/platform/rpc/context.ts";
import { runMigrations, startNova } from "../src/runtime/app.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { existingDatabase, scratchDatabase } from "./lib.ts";

const root = new URL("..", import.meta.url).pathname;
const say = (m: string) => process.stderr.write(`search: ${m}\n`);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 100) / 100;
}

/** `concurrency` callers in a closed loop for `seconds`; latencies of the calls that finished. */
async function closedLoop(seconds: number, concurrency: number, call: (i: number) => Promise<unknown>) {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const i = n++;
        const s = performance.now();
        try {
          await call(i);
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { p50: pct(lat, 50), p99: pct(lat, 99), rps: Math.round(lat.length / elapsed), calls: lat.length, errors };
}

/** The usernames and ids of a kept database's seed (seed 7), in seeding order. */
async function seededIn(db: { writerPool: { query: (q: string) => Promise<{ rows: Record<string, string>[] }> } }) {
  const r = await db.writerPool.query(
    "SELECT id::text AS id, username FROM identity.users WHERE username LIKE 'seed7\\_%' ORDER BY substr(username, 7)::int",
  );
  return { seconds: 0, userIds: r.rows.map((x) => x.id as string), usernames: r.rows.map((x) => x.username as string) };
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const s = await ensureServices();
  // BENCH_SEARCH_DB=<name>: measure on a database a former run kept (BENCH_KEEP_DB=1) instead of seeding one:
  // new migrations are applied, the reindex is skipped.
  const reuse = process.env.BENCH_SEARCH_DB;
  const pools = { poolMax: 4, applicationName: "bench-search" };
  const scratch = reuse ? existingDatabase(s.postgres, reuse, pools) : await scratchDatabase(s.postgres, pools);
  const db = scratch.db;
  const size = quick
    ? { users: 2_000, followsPerUser: 5, posts: 20_000 }
    : { users: 10_000, followsPerUser: 5, posts: 100_000 };
  const targets = resolveTargets(["identity", "graph", "content", "search", "relay"]);
  let nova: Awaited<ReturnType<typeof startNova>> | undefined;
  try {
    // Every schema (the relay serves every outbox in the module table), though only these targets run.
    await runMigrations(db, resolveTargets(["all"]), createLogger({ level: "warn" }));
    say(`seeding ${JSON.stringify(size)}`);
    const seeded = reuse ? await seededIn(db) : await seed(db.kysely<unknown>().writer, { ...size, seed: 7 });
    say(reuse ? `reusing ${reuse}` : `seeded in ${seeded.seconds} s`);

    // Nova without the gateway and the feed: the search consumer builds its projection from the log.
    const t0 = Date.now();
    nova = await startNova({
      mode: "embedded",
      targets,
      config: loadConfig({
        DATABASE_URL: scratch.url(s.postgres),
        NOVA_DATA_DIR: join(root, ".nova-bench"),
        LOG_LEVEL: "warn",
        ADMIN_PORT: "0",
        DB_POOL_MAX: "10",
      }),
    });
    for (;;) {
      const r = await db.writerPool.query(
        "SELECT (SELECT count(*) FROM search.posts)::int AS posts, (SELECT count(*) FROM search.users)::int AS users",
      );
      if (r.rows[0].posts >= size.posts && r.rows[0].users >= size.users) break;
      if (Date.now() - t0 > 1_800_000) throw new Error("the search consumer did not catch up");
      await new Promise((res) => setTimeout(res, 1_000));
    }
    const projectionSeconds = (Date.now() - t0) / 1000;
    say(`projection built from ${size.posts} posts and ${size.users} users' events in ${projectionSeconds} s`);
    await db.writerPool.query("VACUUM ANALYZE search.users, search.posts, search.post_hashtags, search.hashtags");

    const services = nova.instances.get("search")?.services;
    if (!services) throw new Error("search did not start");
    const rpc: Client<typeof SearchService> = serviceClient(
      SearchService,
      createTransport({ caller: "gateway", target: "search", peer: { kind: "local", services } }),
      10_000,
    );
    // A signed-in viewer (blocks apply), as through the gateway.
    const viewer = { userId: seeded.userIds[1] as string, sessionId: "bench" };
    const as = <T>(fn: () => Promise<T>) => runWithCall({ user: viewer }, fn);

    const names = seeded.usernames;
    const pick = (i: number) => names[(i * 7919) % names.length] as string;
    const userQueries = (i: number): string => {
      const u = pick(i);
      switch (i % 5) {
        case 0:
          return u; // exact
        case 1:
          return u.slice(0, Math.max(3, u.length - 2)); // prefix
        case 2:
          return u.replace("_", " "); // display name words ("Seed7 123")
        case 3:
          return `${u.slice(0, 2)}${u[3]}${u[2]}${u.slice(4)}`; // typo: two letters swapped
        default:
          return u.slice(0, 2); // two characters typed
      }
    };
    const POST_QUERIES = [
      "music",
      "cats",
      "travel photo",
      "the",
      "of the and",
      '"you that" -news',
      "books OR games",
      "zebra",
      "#sports",
      "running",
    ];
    const seconds = quick ? 5 : 15;
    // Latency: 2 callers (the machine's 2 cores busy, little queueing). Throughput: 8 callers (saturated).
    const userQuery = (i: number) => as(() => rpc.searchUsers({ query: userQueries(i), limit: 20 }));
    const postQuery = (i: number) =>
      as(() => rpc.searchPosts({ query: POST_QUERIES[i % POST_QUERIES.length] as string, limit: 20 }));
    // Warm-up: plans, caches, pooled connections.
    await closedLoop(2, 8, userQuery);
    await closedLoop(2, 8, postQuery);
    const users = await closedLoop(seconds, 2, userQuery);
    say(`user search, 2 callers: p50 ${users.p50} ms, p99 ${users.p99} ms, ${users.rps}/s, errors ${users.errors}`);
    const usersMax = await closedLoop(seconds, 8, userQuery);
    say(`user search, 8 callers: p50 ${usersMax.p50} ms, p99 ${usersMax.p99} ms, ${usersMax.rps}/s`);
    const posts = await closedLoop(seconds, 2, postQuery);
    say(`post search, 2 callers: p50 ${posts.p50} ms, p99 ${posts.p99} ms, ${posts.rps}/s, errors ${posts.errors}`);
    const postsMax = await closedLoop(seconds, 8, postQuery);
    say(`post search, 8 callers: p50 ${postsMax.p50} ms, p99 ${postsMax.p99} ms, ${postsMax.rps}/s`);
    const short = quick ? 2 : 5;
    const hashtags = await closedLoop(short, 2, (i) =>
      as(() => rpc.searchHashtags({ query: ["mu", "ca", "tr", "#n", "s"][i % 5] as string, limit: 20 })),
    );
    const trending = await closedLoop(short, 2, () => as(() => rpc.trendingHashtags({ limit: 10 })));
    const byTag = await closedLoop(short, 2, (i) =>
      as(() => rpc.postsByHashtag({ tag: ["music", "nova", "dev"][i % 3] as string, limit: 20 })),
    );
    say(`hashtags p99 ${hashtags.p99} ms, trending p99 ${trending.p99} ms, posts by hashtag p99 ${byTag.p99} ms`);

    // The rebuild: the same job `nova search reindex` asks for (not on a reused database).
    const rebuild = async () => {
      const r0 = Date.now();
      const job = await db.writerPool.query<{ id: string }>(
        "INSERT INTO search.reindex_jobs (id) VALUES (gen_random_uuid()) RETURNING id::text AS id",
      );
      let summary: Record<string, unknown> = {};
      for (;;) {
        const r = await db.writerPool.query("SELECT state, summary, error FROM search.reindex_jobs WHERE id = $1", [
          job.rows[0]?.id,
        ]);
        if (r.rows[0].state === "done") {
          summary = r.rows[0].summary;
          break;
        }
        if (r.rows[0].state === "failed") throw new Error(`reindex failed: ${r.rows[0].error}`);
        if (Date.now() - r0 > 1_800_000) throw new Error("reindex did not finish");
        await new Promise((res) => setTimeout(res, 500));
      }
      const reindexSeconds = (Date.now() - r0) / 1000;
      say(`reindex: ${JSON.stringify(summary)} in ${reindexSeconds} s`);
      return { reindexSeconds, summary };
    };
    const { reindexSeconds, summary } = reuse ? { reindexSeconds: 0, summary: {} } : await rebuild();

    return {
      quick,
      measured: "SearchService RPCs direct (in-process Connect transport, signed-in viewer), no gateway",
      users: size.users,
      posts: size.posts,
      latency_callers: 2,
      throughput_callers: 8,
      seconds_per_kind: seconds,
      seed_seconds: seeded.seconds,
      projection_seconds: projectionSeconds,
      user_search_p50_ms: users.p50,
      user_search_p99_ms: users.p99,
      user_search_rps: usersMax.rps,
      user_search_rps_2_callers: users.rps,
      user_search_p99_ms_8_callers: usersMax.p99,
      user_search_errors: users.errors + usersMax.errors,
      post_search_p50_ms: posts.p50,
      post_search_p99_ms: posts.p99,
      post_search_rps: postsMax.rps,
      post_search_rps_2_callers: posts.rps,
      post_search_p99_ms_8_callers: postsMax.p99,
      post_search_errors: posts.errors + postsMax.errors,
      hashtag_search_p99_ms: hashtags.p99,
      trending_p99_ms: trending.p99,
      posts_by_hashtag_p99_ms: byTag.p99,
      reindex_seconds: reindexSeconds,
      reindex_posts_per_s: Math.round(Number(summary.posts ?? 0) / Math.max(0.001, reindexSeconds)),
    };
  } finally {
    await nova?.stop();
    // BENCH_KEEP_DB=1 keeps the seeded database for EXPLAIN (ANALYZE) afterwards (drop it by hand).
    if (process.env.BENCH_KEEP_DB === "1") {
      say(`kept database ${scratch.name}`);
      await scratch.db.close();
    } else await scratch.drop();
  }
}
