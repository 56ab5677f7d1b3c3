/** The reindexer's parked events on real PostgreSQL (the shared test database; each test rolls back). */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { services } from "../../../test/helpers.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { eventTables } from "../../platform/events/sets.ts";
import { parkedBatch } from "./queries.ts";

const pool = new pg.Pool({ connectionString: (await services()).postgres, max: 1 });
const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
before(async () => {
  // A no-op when a suite that starts Nova has migrated already; a fresh database needs it.
  await migrate(pool, [{ schema: "search", dir: new URL("./migrations/", import.meta.url) }, eventTables("search")]);
});
after(() => db.destroy());

test("parked events replay in the order they were parked, across a power of ten", async () => {
  const seqs = ["999999999998", "999999999999", "1000000000000", "1000000000001"];
  await db
    .transaction()
    .execute(async (trx) => {
      for (const [i, seq] of [...seqs].reverse().entries()) {
        await sql`INSERT INTO search.reindex_buffer (seq, envelope) OVERRIDING SYSTEM VALUE
          VALUES (${seq}::bigint, ${JSON.stringify({ n: i })}::jsonb)`.execute(trx);
      }
      const rows = (await parkedBatch(trx, 1_000)).filter((r) => seqs.includes(r.seq));
      assert.deepEqual(
        rows.map((r) => r.seq),
        seqs,
      );
      throw new Rollback();
    })
    .catch((err) => {
      if (!(err instanceof Rollback)) throw err;
    });
});

class Rollback extends Error {}
