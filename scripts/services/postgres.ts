// The PostgreSQL primary: its folder layout (shared with the replica and
// PgBouncer), initdb and the roles Nova connects as, the postmaster, and the
// connections the harness makes to it.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { POOL_DEFAULTS } from "../../src/platform/db/pool.ts";
import { accessibleAs, log, processAlive, type RunAs, run, spawnDetached } from "../lib/proc.ts";
import { mkdirOwned, type Service, type State, type Tools, writeOwned } from "./shared.ts";

export const REPLICA_SLOT = "nova_replica";
export const REPLICATION_USER = "replicator";
export const REPLICATION_PASSWORD = "replicator";
const SUPERUSER_PASSWORD = "postgres";
export const APP_USER = "nova";
export const APP_PASSWORD = "nova";
export const APP_DB = "nova";

export const postgres: Service = {
  name: "postgres",
  url: (s) => appUrl(s.ports.postgres),
  match: "postgres",
  signal: "SIGINT",
  logFile: (s) => pgPaths(s).primaryLog,
  start: (s, t) => startPostgres(s, t, "postgres"),
  probe: async (s) => {
    await asAppUser(appUrl(s.ports.postgres), (c) => c.query("SELECT 1"));
  },
  timeoutMs: 60_000,
};

/** Nova's connection URL for a PostgreSQL (or PgBouncer) port on 127.0.0.1. */
export function appUrl(port: number): string {
  return `postgres://${APP_USER}:${APP_PASSWORD}@127.0.0.1:${port}/${APP_DB}`;
}

export function pgPaths(s: State) {
  return {
    primary: join(s.pgRoot, "primary"),
    replica: join(s.pgRoot, "replica"),
    sock: join(s.pgRoot, "sock"),
    bouncerDir: join(s.pgRoot, "pgbouncer"),
    primaryLog: join(s.pgRoot, "primary.log"),
    replicaLog: join(s.pgRoot, "replica.log"),
    bouncerLog: join(s.pgRoot, "pgbouncer.log"),
  };
}

// ------------------------------------------------------------------ creating

/**
 * Where PostgreSQL's files go. Normally <stateDir>/pg; but the unprivileged
 * user may be unable to reach the state folder (the default one sits under
 * /root, mode 0700), and unix socket paths are limited to ~107 bytes: then
 * the files go to that user's home (or /tmp when not root) and <stateDir>/pg
 * is a symlink to them.
 */
export function pgRootFor(dir: string, as: RunAs | null): { pgRoot: string; external: boolean } {
  const direct = join(dir, "pg");
  const socketOk = join(direct, "sock", ".s.PGSQL.65535").length <= 100;
  if (socketOk) {
    mkdirOwned(direct, as, 0o755);
    if (accessibleAs(direct, as, "-w") && accessibleAs(direct, as, "-x")) return { pgRoot: direct, external: false };
    rmSync(direct, { recursive: true, force: true });
  }
  const tag = createHash("sha256").update(dir).digest("hex").slice(0, 12);
  const pgRoot = as ? join(as.home, `services-${tag}`) : join("/tmp", `nova-pg-${tag}`);
  rmSync(pgRoot, { recursive: true, force: true });
  mkdirOwned(pgRoot, as, 0o755);
  symlinkSync(pgRoot, direct);
  return { pgRoot, external: true };
}

export async function initPrimary(s: State, t: Tools): Promise<void> {
  const p = pgPaths(s);
  mkdirOwned(p.sock, t.runAs, 0o755);
  const pwfile = join(s.pgRoot, ".pwfile");
  writeOwned(pwfile, `${SUPERUSER_PASSWORD}\n`, t.runAs);
  log("postgres: initdb");
  try {
    await run(
      join(t.pgBin, "initdb"),
      [
        "-D",
        p.primary,
        "-U",
        "postgres",
        `--pwfile=${pwfile}`,
        "-E",
        "UTF8",
        "--locale=C",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-sync",
      ],
      { cwd: s.pgRoot, env: pgEnv(), as: t.runAs },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  writeOwned(
    join(p.primary, "postgresql.conf"),
    readFileSync(join(p.primary, "postgresql.conf"), "utf8") + postgresConf(s),
    t.runAs,
  );
  writeOwned(join(p.primary, "pg_hba.conf"), PG_HBA, t.runAs);
}

function postgresConf(s: State): string {
  return [
    "",
    "# ---- nova services harness (scripts/services.ts) ----",
    "# port and unix_socket_directories come from the command line (-p, -k)",
    "listen_addresses = '127.0.0.1'",
    "max_connections = 200",
    "shared_buffers = 128MB",
    "wal_level = replica",
    "max_wal_senders = 5",
    "max_replication_slots = 5",
    "hot_standby = on",
    "hot_standby_feedback = on",
    "wal_retrieve_retry_interval = 1s",
    "password_encryption = 'scram-sha-256'",
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    "log_line_prefix = '%m [%p] %q%u@%d '",
    `# state: ${s.stateDir}`,
    "",
  ].join("\n");
}

const PG_HBA = `# nova services harness
# TYPE  DATABASE     USER         ADDRESS        METHOD
local   all          all                         trust
local   replication  all                         trust
host    all          all          127.0.0.1/32   scram-sha-256
host    replication  ${REPLICATION_USER}   127.0.0.1/32   scram-sha-256
`;

/** Nova's role and database, and the replication role; once, on a fresh primary. */
export async function setupPrimary(s: State): Promise<void> {
  await asSuperuser(s, s.ports.postgres, async (c) => {
    await c.query(`CREATE ROLE ${APP_USER} LOGIN CREATEDB PASSWORD '${APP_PASSWORD}'`);
    await c.query(`CREATE ROLE ${REPLICATION_USER} LOGIN REPLICATION PASSWORD '${REPLICATION_PASSWORD}'`);
    await c.query(`CREATE DATABASE ${APP_DB} OWNER ${APP_USER}`);
    // Provisioned like a production database: the timeouts are database defaults from the
    // first connection on (Nova's migrator sets the same ones), so PgBouncer's pooled server
    // connections carry them even when they were opened before the first migration.
    await c.query(`ALTER DATABASE ${APP_DB} SET statement_timeout = '${POOL_DEFAULTS.statementTimeout}'`);
    await c.query(`ALTER DATABASE ${APP_DB} SET lock_timeout = '${POOL_DEFAULTS.lockTimeout}'`);
  });
  await asSuperuser(
    s,
    s.ports.postgres,
    async (c) => {
      // public is owned by pg_database_owner (= nova) since PG 15; be explicit anyway
      await c.query(`GRANT ALL ON SCHEMA public TO ${APP_USER}`);
      await c.query(`GRANT CREATE, CONNECT, TEMPORARY ON DATABASE ${APP_DB} TO ${APP_USER}`);
    },
    APP_DB,
  );
}

// ------------------------------------------------------------------ running

/** Starts the primary's or the replica's postmaster; returns its pid. */
export function startPostgres(s: State, t: Tools, which: "postgres" | "replica"): number {
  const p = pgPaths(s);
  const dataDir = which === "postgres" ? p.primary : p.replica;
  const logFile = which === "postgres" ? p.primaryLog : p.replicaLog;
  // A postmaster.pid left by a crash or a reboot: adopt a live postmaster,
  // drop the file if its pid is gone or is someone else.
  const lock = join(dataDir, "postmaster.pid");
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, "utf8").split("\n")[0]);
    if (processAlive(pid, "postgres")) return pid;
    rmSync(lock, { force: true });
  }
  // Same for the unix socket's lock file. (Where PID 1 does not reap orphans,
  // a killed postmaster stays a zombie and PostgreSQL's own kill(pid, 0) check
  // would take it for a live one.)
  const socket = join(p.sock, `.s.PGSQL.${s.ports[which]}`);
  if (existsSync(`${socket}.lock`)) {
    const pid = Number(readFileSync(`${socket}.lock`, "utf8").split("\n")[0]);
    if (!processAlive(pid, "postgres")) {
      rmSync(`${socket}.lock`, { force: true });
      rmSync(socket, { force: true });
    }
  }
  mkdirOwned(p.sock, t.runAs, 0o755);
  return spawnDetached(join(t.pgBin, "postgres"), ["-D", dataDir, "-p", String(s.ports[which]), "-k", p.sock], {
    logFile,
    cwd: s.pgRoot,
    env: pgEnv(),
    as: t.runAs,
  });
}

function pgEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG")) env[k] = v;
  env.LC_ALL = "C";
  env.LANG = "C";
  return env;
}

// ------------------------------------------------------------------ connections

/** Superuser connection over the unix socket (trust auth). */
export function asSuperuser<T>(s: State, port: number, fn: (c: pg.Client) => Promise<T>, database = "postgres") {
  return withClient({ host: pgPaths(s).sock, port, user: "postgres", database }, fn);
}

/** Nova's own connection, by URL (password auth over TCP, as Nova connects). */
export function asAppUser<T>(url: string, fn: (c: pg.Client) => Promise<T>) {
  return withClient({ connectionString: url }, fn);
}

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionTimeoutMillis: 3000, query_timeout: 10_000, ...config });
  client.on("error", () => {
    // connection-level errors surface through the awaited calls
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
