/** The migrator against real PostgreSQL: ordered, once, under a lock, and refusing edited history. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { migrate } from "../src/platform/db/migrator.ts";
import { Database } from "../src/platform/db/pool.ts";
import { services, tempDir } from "./helpers.ts";

let db: Database;
const schema = `mig_${Date.now().toString(36)}`;
const dir = join(tempDir(), "migrations");

before(async () => {
  db = new Database({ writerUrl: (await services()).pgbouncer, poolMax: 8, applicationName: "test-migrator" });
  mkdirSync(dir);
  writeFileSync(join(dir, "0001_init.sql"), `CREATE TABLE ${schema}.t (id int PRIMARY KEY);`);
  writeFileSync(
    join(dir, "0002_add.sql"),
    `ALTER TABLE ${schema}.t ADD COLUMN name text; INSERT INTO ${schema}.t VALUES (1, 'a');`,
  );
  writeFileSync(join(dir, "README.txt"), "not a migration");
});

after(async () => {
  await db.writerPool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
});

test("concurrent runs (through PgBouncer) apply each migration exactly once, in order", async () => {
  const set = { schema, dir: pathToFileURL(`${dir}/`) };
  const results = await Promise.all(Array.from({ length: 4 }, () => migrate(db.writerPool, [set])));
  const applied = results.flatMap((r) => r[0]?.applied ?? []);
  assert.deepEqual(applied, ["0001_init.sql", "0002_add.sql"], "one run applied both, the others nothing");
  const { rows } = await db.writerPool.query(`SELECT id, name FROM ${schema}.t`);
  assert.deepEqual(rows, [{ id: 1, name: "a" }]);
  const again = await migrate(db.writerPool, [set]);
  assert.deepEqual(again[0]?.applied, []);
});

test("a failing migration rolls back entirely", async () => {
  writeFileSync(join(dir, "0003_bad.sql"), `ALTER TABLE ${schema}.t ADD COLUMN x int; SELECT 1/0;`);
  await assert.rejects(migrate(db.writerPool, [{ schema, dir: pathToFileURL(`${dir}/`) }]), /division by zero/);
  const { rows } = await db.writerPool.query(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 't' ORDER BY 1",
    [schema],
  );
  assert.deepEqual(
    rows.map((r) => r.column_name),
    ["id", "name"],
  );
});

test("an applied migration that was edited is refused", async () => {
  writeFileSync(join(dir, "0003_bad.sql"), "SELECT 1;");
  writeFileSync(join(dir, "0001_init.sql"), `CREATE TABLE ${schema}.t (id bigint PRIMARY KEY);`);
  await assert.rejects(
    migrate(db.writerPool, [{ schema, dir: pathToFileURL(`${dir}/`) }]),
    /was changed after it was applied/,
  );
});
