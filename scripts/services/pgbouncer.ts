// PgBouncer in transaction mode in front of the primary. Its files sit in the
// PostgreSQL folder, owned by the same user (PgBouncer refuses to run as root too).

import { join } from "node:path";
import { spawnDetached } from "../lib/proc.ts";
import { APP_DB, APP_PASSWORD, APP_USER, appUrl, asAppUser, pgPaths } from "./postgres.ts";
import { mkdirOwned, type Service, type State, type Tools, writeOwned } from "./shared.ts";

export const pgbouncer: Service = {
  name: "pgbouncer",
  url: (s) => appUrl(s.ports.pgbouncer),
  match: "pgbouncer",
  signal: "SIGTERM",
  logFile: (s) => pgPaths(s).bouncerLog,
  start: startPgbouncer,
  probe: async (s) => {
    await asAppUser(appUrl(s.ports.pgbouncer), async (c) => {
      await c.query("SELECT 1");
      const r = await c.query<{ n: number }>("SELECT $1::int AS n", [42]);
      if (r.rows[0]?.n !== 42) throw new Error("pgbouncer: wrong answer");
    });
  },
  timeoutMs: 30_000,
};

function startPgbouncer(s: State, t: Tools): number {
  const ini = writePgbouncerConfig(s, t);
  return spawnDetached(t.pgbouncer, [ini], {
    logFile: pgPaths(s).bouncerLog,
    cwd: s.pgRoot,
    as: t.runAs,
  });
}

function writePgbouncerConfig(s: State, t: Tools): string {
  const p = pgPaths(s);
  mkdirOwned(p.bouncerDir, t.runAs, 0o700);
  const userlist = join(p.bouncerDir, "userlist.txt");
  writeOwned(userlist, `"${APP_USER}" "${APP_PASSWORD}"\n`, t.runAs);
  const ini = join(p.bouncerDir, "pgbouncer.ini");
  writeOwned(
    ini,
    [
      "; nova services harness (scripts/services.ts)",
      "[databases]",
      `${APP_DB} = host=127.0.0.1 port=${s.ports.postgres} dbname=${APP_DB}`,
      "",
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${s.ports.pgbouncer}`,
      `unix_socket_dir = ${p.sock}`,
      "auth_type = scram-sha-256",
      `auth_file = ${userlist}`,
      "pool_mode = transaction",
      "max_client_conn = 1000",
      "default_pool_size = 20",
      "ignore_startup_parameters = extra_float_digits,options,statement_timeout,lock_timeout",
      `stats_users = ${APP_USER}`,
      "server_login_retry = 1",
      "log_connections = 0",
      "log_disconnections = 0",
      "",
    ].join("\n"),
    t.runAs,
  );
  return ini;
}
