/**
 * Post search picks its candidates (the newest SEARCH_POST_CANDIDATES matches
 * the viewer may see) one of two ways: the matches among the newest posts read
 * in time order, or, when those hold too few, every match from the full-text
 * index. Either way the answer must be the one of the plain definition: this
 * suite compares every page walk with that definition over generated
 * projections (own scratch database, the search schema only; candidate and
 * scan sizes small enough that both ways are taken). User search takes at most
 * 200 prefix matches per column in index order; a prefix shared by more users
 * still answers prefix matches first, in order, and pages without repeats.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Client } from "@connectrpc/connect";
import fc from "fast-check";
import { sql } from "kysely";
import pg from "pg";
import { dropDatabase } from "../scripts/lib/scratch.ts";
import { SearchService } from "../src/gen/nova/search/v1/search_pb.ts";
import { Database } from "../src/platform/db/pool.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { likePrefix } from "../src/services/search/queries.ts";
import { createSearch } from "../src/services/search/service.ts";
import { prefixPattern } from "../src/services/search/validation.ts";
import { clientAs, services } from "./helpers.ts";

const CANDIDATES = 4;
const RECENT_SCAN = 10;
const WORDS = ["alpha", "bravo", "charlie", "the"];
const QUERIES = ["alpha", "bravo", "charlie", "the", "alpha bravo", "alpha OR charlie", "-bravo", '"alpha bravo"'];
const uuidOf = (i: number, tag: number) =>
  `00000000-0000-7000-8${tag.toString(16).padStart(3, "0")}-${i.toString(16).padStart(12, "0")}`;

/** The definition: the newest CANDIDATES visible matches up to asOf, ranked (the query before the three ways). */
const REFERENCE = `
  WITH q AS (
    SELECT websearch_to_tsquery('english', search.fold($1)) || websearch_to_tsquery('simple', search.fold($1)) AS q
  ), cand AS (
    SELECT p.post_id, p.created_at, p.tsv FROM search.posts p, q
    WHERE p.tsv @@ q.q AND p.created_at <= $2::timestamptz
      AND p.author_id NOT IN (SELECT blocked_id FROM search.blocks WHERE blocker_id = $3::uuid
                              UNION ALL SELECT blocker_id FROM search.blocks WHERE blocked_id = $3::uuid)
    ORDER BY p.created_at DESC, p.post_id DESC LIMIT $4
  )
  SELECT post_id::text AS id FROM cand, q
  ORDER BY (ts_rank(tsv, q.q, 32) / (1 + extract(epoch FROM $2::timestamptz - created_at)::float8 / 604800))::float8 DESC,
    created_at DESC, post_id DESC`;

describe("search candidates", () => {
  let admin = "";
  const name = `nova_searchcand_${randomBytes(4).toString("hex")}`;
  let db: Database;
  /** The search service under test, calling as `userId`. */
  let searchAs: (userId: string) => Client<typeof SearchService>;

  before(async () => {
    admin = (await services()).postgres;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const u = new URL(admin);
    u.pathname = `/${name}`;
    db = new Database({ writerUrl: u.toString(), poolMax: 3, applicationName: "test-search-candidates" });
    await runMigrations(db, resolveTargets(["search"]), createLogger({ level: "fatal" }));
    const search = createSearch({
      db: db.kysely<unknown>(),
      options: { postCandidates: CANDIDATES, postRecentScan: RECENT_SCAN },
    });
    const registrations = [{ service: SearchService, impl: search.service }];
    searchAs = (userId) => clientAs(registrations, SearchService, userId);
  });
  after(async () => {
    await db?.close();
    if (admin) await dropDatabase(admin, name);
  });

  /** Every page of `query` for `viewer`, 3 at a time, and the asOf the first page fixed. */
  async function walk(query: string, viewer: string) {
    const ids: string[] = [];
    let asOf: string | undefined;
    let cursor = "";
    const rpc = searchAs(viewer);
    for (let i = 0; i < 20; i++) {
      const page = await rpc.searchPosts({ query, limit: 3, cursor });
      ids.push(...page.postIds);
      if (page.cursors[0]) asOf ??= JSON.parse(Buffer.from(page.cursors[0], "base64url").toString("utf8"))[1];
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return { ids, asOf };
  }

  test("both ways of finding the candidates answer as the definition does", async () => {
    const viewer = uuidOf(0, 0xfff);
    const authors = [1, 2, 3, 4, 5].map((i) => uuidOf(i, 0xffe));
    const post = fc.record({
      words: fc.subarray(WORDS, { minLength: 1 }),
      repeat: fc.integer({ min: 1, max: 3 }),
      author: fc.integer({ min: 0, max: authors.length - 1 }),
      // Minutes ago; ties in time are allowed (the post id breaks them).
      age: fc.integer({ min: 0, max: 60 * 24 * 20 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(post, { maxLength: 40, size: "max" }),
        fc.subarray([0, 1, 2, 3, 4]),
        fc.subarray([0, 1, 2, 3, 4]),
        fc.constantFrom(...QUERIES),
        async (posts, blocked, blockers, query) => {
          const w = db.writerPool;
          const now = Date.now();
          await w.query("TRUNCATE search.posts, search.blocks");
          if (posts.length)
            await w.query(
              `INSERT INTO search.posts (post_id, author_id, text, language, created_at)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::regconfig[], $5::timestamptz[])`,
              [
                posts.map((_, i) => uuidOf(i + 1, 1)),
                posts.map((p) => authors[p.author]),
                posts.map((p) => Array(p.repeat).fill(p.words.join(" ")).join(", ")),
                posts.map(() => "english"),
                posts.map((p) => new Date(now - p.age * 60_000 - 60_000).toISOString()),
              ],
            );
          for (const b of blocked)
            await w.query("INSERT INTO search.blocks (blocker_id, blocked_id) VALUES ($1, $2)", [viewer, authors[b]]);
          for (const b of blockers)
            await w.query("INSERT INTO search.blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
              authors[b],
              viewer,
            ]);
          const got = await walk(query, viewer);
          const want = await w.query(REFERENCE, [query, got.asOf ?? new Date().toISOString(), viewer, CANDIDATES]);
          assert.deepEqual(
            got.ids,
            want.rows.map((r) => r.id),
            `${JSON.stringify(query)} over ${posts.length} posts`,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  test("users: a prefix more than the 200 candidates share answers prefix matches first, in order, paged", async () => {
    const w = db.writerPool;
    await w.query("TRUNCATE search.users, search.blocks");
    // 300 usernames that start with "pre", in no particular order, one exact match and some look-alikes.
    const names = [...Array.from({ length: 300 }, (_, i) => `pre_${(i * 7919) % 1000}`), "pre", "pr3", "bpre"];
    await w.query(
      `INSERT INTO search.users (user_id, username, display_name, created_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])`,
      [names.map((_, i) => uuidOf(i + 1, 2)), names, names.map(() => ""), names.map(() => new Date().toISOString())],
    );
    const viewer = uuidOf(0, 0xfff);
    const walked: string[] = [];
    let cursor = "";
    const rpc = searchAs(viewer);
    for (let i = 0; i < 5; i++) {
      const page = await rpc.searchUsers({ query: "pre", limit: 50, cursor });
      walked.push(...page.userIds);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const byId = new Map(names.map((n, i) => [uuidOf(i + 1, 2), n]));
    const found = walked.map((id) => byId.get(id) as string);
    assert.equal(new Set(walked).size, walked.length, "no user twice");
    assert.equal(found[0], "pre", "the exact name first");
    const prefixed = found.filter((n) => n.startsWith("pre_"));
    assert.ok(prefixed.length >= 200, `at least the 200 candidates of a column: ${prefixed.length}`);
    assert.deepEqual(found.slice(1, prefixed.length + 1), prefixed, "prefix matches before similar names");
    // In the order of the answer: similarity (as search computes it) descending, then the name.
    const sims = await w.query(
      `SELECT username, greatest(similarity('pre', username), word_similarity('pre', doc))::float8 AS sim
       FROM search.users WHERE username = ANY($1)`,
      [prefixed],
    );
    const sim = new Map(sims.rows.map((r) => [r.username as string, r.sim as number]));
    for (let i = 1; i < prefixed.length; i++) {
      const [a, b] = [prefixed[i - 1] as string, prefixed[i] as string];
      const [x, y] = [sim.get(a) as number, sim.get(b) as number];
      assert.ok(x > y || (x === y && a < b), `${a} (${x}) before ${b} (${y})`);
    }
  });

  test("users: the LIKE pattern built in SQL escapes as prefixPattern does", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom("a", "É", "\\", "%", "_", " ", "'"), maxLength: 12 }),
        async (q) => {
          const f = sql<string>`search.fold(${q}::text)`;
          const r = await sql<{ f: string; p: string }>`SELECT ${f} AS f, ${likePrefix(f)} AS p`.execute(
            db.kysely<unknown>().writer,
          );
          assert.equal(r.rows[0]?.p, prefixPattern(r.rows[0]?.f ?? ""));
        },
      ),
      { numRuns: 200 },
    );
  });
});
