/** Shared by the benchmarks: a scratch database on the harness's PostgreSQL, dropped afterwards. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Database } from "../src/platform/db/pool.ts";

export interface ScratchDb {
  name: string;
  /** `base` (a harness URL: primary, replica, PgBouncer) pointed at the scratch database. */
  url(base: string): string;
  db: Database;
  /** Closes the pools and drops the database. */
  drop(): Promise<void>;
}

export async function scratchDatabase(
  adminUrl: string,
  opts: { poolMax: number; applicationName: string },
): Promise<ScratchDb> {
  const name = `nova_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = (base: string) => {
    const u = new URL(base);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const db = new Database({ writerUrl: url(adminUrl), ...opts });
  return {
    name,
    url,
    db,
    async drop() {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
