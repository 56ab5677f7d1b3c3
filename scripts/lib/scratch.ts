/**
 * Scratch databases of the tests and benchmarks on the harness's PostgreSQL. Dropping one can race
 * an autovacuum worker (a superuser process the test role may not terminate: SQLSTATE 42501), so the
 * drop is retried for a while before it gives up.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export async function dropDatabase(adminUrl: string, name: string, attempts = 20): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== "42501" || attempt >= attempts) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await admin.end();
  }
}

export interface Scratch {
  name: string;
  /** `base` (a harness URL: primary, replica, PgBouncer) pointed at the scratch database. */
  url(base: string): string;
  drop(): Promise<void>;
}

/** Creates an empty database `<prefix>_<random>` on the server behind `adminUrl`. */
export async function createDatabase(adminUrl: string, prefix: string): Promise<Scratch> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url(base) {
      const u = new URL(base);
      u.pathname = `/${name}`;
      return u.toString();
    },
    drop: () => dropDatabase(adminUrl, name),
  };
}
