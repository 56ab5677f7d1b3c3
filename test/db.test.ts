/**
 * The pools against the harness's PostgreSQL: with `prepare`, a parameterised
 * query is a named statement that the connection parses once and reuses; without
 * it nothing is left on the connection (what PgBouncer's transaction pooling needs).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { Database, PLAN_EACH_CALL } from "../src/platform/db/pool.ts";
import { services } from "./helpers.ts";

let url = "";
const opened: Database[] = [];
before(async () => {
  url = (await services()).postgres;
});
after(async () => {
  await Promise.all(opened.map((d) => d.close()));
});

async function run(prepare: boolean, first = "") {
  const db = new Database({ writerUrl: url, poolMax: 1, applicationName: "test-db", prepare });
  opened.push(db);
  const k = db.kysely<unknown>().writer;
  const sums: number[] = [];
  for (const n of [1, 2, 3])
    sums.push((await sql<{ s: number }>`${sql.raw(first)}SELECT ${n}::int + 40 AS s`.execute(k)).rows[0]?.s ?? 0);
  // One connection: the same session the queries ran on.
  const left = await db.writerPool.query<{ name: string; statement: string }>(
    "SELECT name, statement FROM pg_prepared_statements",
  );
  return { sums, left: left.rows };
}

test("with prepare, a parameterised query is one named statement on the connection, reused", async () => {
  const { sums, left } = await run(true);
  assert.deepEqual(sums, [41, 42, 43]);
  assert.equal(left.length, 1, JSON.stringify(left));
  assert.match(left[0]?.name ?? "", /^nova_[A-Za-z0-9_-]{22}$/);
  assert.match(left[0]?.statement ?? "", /SELECT \$1::int \+ 40 AS s/);
});

test("without prepare nothing stays prepared on the connection", async () => {
  const { sums, left } = await run(false);
  assert.deepEqual(sums, [41, 42, 43]);
  assert.deepEqual(left, []);
});

test("a query that starts with PLAN_EACH_CALL stays unnamed even with prepare", async () => {
  const { sums, left } = await run(true, PLAN_EACH_CALL);
  assert.deepEqual(sums, [41, 42, 43]);
  assert.deepEqual(left, []);
});
