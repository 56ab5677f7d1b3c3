/** `nova seed`: reproducible, power-law, and written with its events. */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createDatabase, type Scratch } from "../scripts/lib/scratch.ts";
import { seed } from "../src/cli/seed.ts";
import { Database } from "../src/platform/db/pool.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { services } from "./helpers.ts";

const made: Scratch[] = [];

async function freshDb(): Promise<Database> {
  const adminUrl = (await services()).postgres;
  const scratch = await createDatabase(adminUrl, "nova_seed");
  made.push(scratch);
  const db = new Database({ writerUrl: scratch.url(adminUrl), poolMax: 2, applicationName: "test-seed" });
  await runMigrations(db, resolveTargets(["all"]), createLogger({ level: "fatal" }));
  return db;
}

after(async () => {
  for (const s of made) await s.drop();
});

const edges = async (db: Database) =>
  (
    await db.writerPool.query(
      `SELECT a.username || '>' || b.username AS e FROM graph.follows f
         JOIN identity.users a ON a.id = f.follower_id JOIN identity.users b ON b.id = f.followee_id ORDER BY 1`,
    )
  ).rows.map((r) => r.e);

describe("nova seed", () => {
  test("the same seed gives the same dataset; follows are power-law; rows come with their events", async () => {
    const [one, two] = [await freshDb(), await freshDb()];
    try {
      const opts = { users: 300, followsPerUser: 10, posts: 600, seed: 7 };
      const r1 = await seed(one.kysely<unknown>().writer, opts);
      await seed(two.kysely<unknown>().writer, opts);
      assert.deepEqual(await edges(one), await edges(two), "same follow graph");
      const texts = async (db: Database) =>
        (await db.writerPool.query("SELECT text FROM content.posts ORDER BY created_at, text")).rows.map((r) => r.text);
      assert.deepEqual(await texts(one), await texts(two), "same posts");

      const counts = (
        await one.writerPool.query(
          "SELECT followee_id, count(*)::int AS n FROM graph.follows GROUP BY 1 ORDER BY n DESC",
        )
      ).rows.map((r) => r.n as number);
      const median = counts[Math.floor(counts.length / 2)] as number;
      assert.ok((counts[0] as number) >= 10 * Math.max(1, median), `top ${counts[0]} vs median ${median}`);
      assert.equal(
        r1.follows,
        counts.reduce((a, b) => a + b, 0),
      );

      const ev = async (schema: string, type: string) =>
        (
          await one.writerPool.query(`SELECT count(*)::int AS n FROM ${schema}.outbox WHERE envelope->>'type' = $1`, [
            type,
          ])
        ).rows[0].n;
      assert.equal(await ev("identity", "UserRegistered"), 300);
      assert.equal(await ev("graph", "Followed"), r1.follows);
      assert.equal(await ev("content", "PostCreated"), 600);
      assert.equal(await ev("content", "PostLiked"), r1.likes);
      const span = (
        await one.writerPool.query(
          "SELECT extract(epoch FROM max(created_at) - min(created_at)) / 86400 AS days FROM content.posts",
        )
      ).rows[0].days;
      assert.ok(span > 25, `posts spread over ${span} days`);
      await assert.rejects(
        seed(one.kysely<unknown>().writer, opts),
        /seed 7 already applied: usernames seed7_0… exist/,
      );
    } finally {
      await one.close();
      await two.close();
    }
  });
});
