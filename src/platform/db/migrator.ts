/**
 * Versioned, forward-only migrations, one set per service schema. A run takes
 * a transaction-scoped advisory lock (so it also works through PgBouncer in
 * transaction mode), applies what is pending in order inside that one
 * transaction, and refuses to go on if an applied file was edited. Files are
 * `NNNN_description.sql`; they must follow expand-contract (ARCHITECTURE §3).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { POOL_DEFAULTS } from "./pool.ts";

export interface MigrationSet {
  schema: string;
  dir: URL;
  /**
   * A platform set applied to many schemas: `{{schema}}` in its SQL is the
   * target schema, and its files are recorded as `<prefix>/<file>`.
   */
  template?: { prefix: string };
}

interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

function readMigrations(set: MigrationSet): MigrationFile[] {
  const path = fileURLToPath(set.dir);
  return readdirSync(path)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const raw = readFileSync(`${path}/${f}`, "utf8");
      const sql = set.template ? raw.replaceAll("{{schema}}", set.schema) : raw;
      return {
        version: Number(f.slice(0, 4)),
        name: set.template ? `${set.template.prefix}/${f}` : f,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    });
}

/** Database-level defaults: every new server connection gets them, through PgBouncer or not. */
const DATABASE_DEFAULTS = `
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '${POOL_DEFAULTS.statementTimeout}');
  EXECUTE format('ALTER DATABASE %I SET lock_timeout = %L', current_database(), '${POOL_DEFAULTS.lockTimeout}');
  EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L', current_database(), '60s');
END $$;`;

export async function migrate(pool: pg.Pool, sets: MigrationSet[]): Promise<{ schema: string; applied: string[] }[]> {
  const client = await pool.connect();
  const results: { schema: string; applied: string[] }[] = [];
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('nova.migrate', 0))");
    await client.query(DATABASE_DEFAULTS);
    for (const set of sets) {
      const schema = set.schema;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`bad schema name ${schema}`);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
           name text PRIMARY KEY, version int NOT NULL, checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        `SELECT version, name, checksum FROM ${schema}.schema_migrations`,
      );
      const done = new Map(rows.map((r) => [r.name, r]));
      const applied: string[] = [];
      for (const m of readMigrations(set)) {
        const prior = done.get(m.name);
        if (prior) {
          if (prior.checksum !== m.checksum) {
            throw new Error(
              `migration ${schema}/${m.name} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        await client.query(`SET LOCAL search_path TO ${schema}, public`);
        await client.query(m.sql);
        await client.query(`INSERT INTO ${schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, [
          m.version,
          m.name,
          m.checksum,
        ]);
        applied.push(m.name);
      }
      results.push({ schema: set.template ? `${schema} (${set.template.prefix})` : schema, applied });
    }
    await client.query("COMMIT");
    return results;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
