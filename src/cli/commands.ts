/**
 * The `nova` commands (nova.ts dispatches here once the command line asks for one, so that help
 * alone loads none of this). What only one command needs (the seed and its password hashing, the
 * JWT key maker, the web client's build check, dlq and search) is imported by that command, so
 * that `nova serve` loads the runtime and its targets only.
 */

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runningEmbeddedUrl } from "../platform/db/embedded.ts";
import { Database } from "../platform/db/pool.ts";
import { createLogger } from "../platform/observability/logger.ts";
import { generateDevCerts } from "../platform/rpc/tls.ts";
import { type Nova, runMigrations, startNova } from "../runtime/app.ts";
import { ConfigError, loadConfig } from "../runtime/config.ts";
import { moduleNames, resolveTargets } from "../runtime/modules.ts";
import { type Command, type CommandLine, fail, HELP } from "./usage.ts";

/** The database of a one-shot command: DATABASE_URL, or the embedded PostgreSQL of a running `nova start`. */
function commandDatabase(command: string, poolMax: number): Database {
  const config = loadConfig(process.env);
  const url = config.DATABASE_URL ?? runningEmbeddedUrl(config.dataDir);
  if (!url)
    fail(
      `DATABASE_URL: required for ${command}, or run it beside a running \`nova start\` with the same NOVA_DATA_DIR (now ${config.dataDir})`,
    );
  return new Database({ writerUrl: url, poolMax, applicationName: `nova-${command}` });
}

/** `--wait-ms`: how long a command waits for a running module to serve its request. */
function waitMsOption(v: string | undefined): number {
  const waitMs = Number(v ?? 60_000);
  if (!Number.isInteger(waitMs) || waitMs < 0) fail("--wait-ms: expected a whole number of milliseconds");
  return waitMs;
}

/** Stops on SIGTERM/SIGINT: drain, close, exit 0. */
function onSignals(nova: Nova): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    nova.log.info({ signal }, "shutting down");
    nova.stop().then(
      () => process.exit(0),
      (err) => {
        nova.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

async function startCommand(): Promise<void> {
  const config = loadConfig(process.env, { identity: "all" });
  const started = Date.now();
  const { ensureWebClient } = await import("./web.ts");
  const built = await ensureWebClient((line) => process.stderr.write(`${line}\n`));
  if (built > 0) process.stderr.write(`web client built in ${built} ms\n`);
  const nova = await startNova({ mode: "embedded", targets: resolveTargets(["all"]), config });
  onSignals(nova);
  const gw = nova.instances.get("gateway")?.address;
  nova.log.info(
    { ms: Date.now() - started, metrics: `http://127.0.0.1:${nova.adminPort}/metrics` },
    `Nova is up: ${gw}/ (web client), ${gw}/graphql`,
  );
}

async function serveCommand({ values }: CommandLine): Promise<void> {
  if (!values.target?.length) fail("serve needs --target=<module>[,<module>] (see nova serve --help)");
  let targets: ReturnType<typeof resolveTargets>;
  try {
    targets = resolveTargets(values.target);
  } catch (err) {
    fail((err as Error).message);
  }
  const config = loadConfig(process.env, { identity: targets.join("+") });
  const nova = await startNova({ mode: "distributed", targets, config });
  onSignals(nova);
}

async function migrateCommand({ values }: CommandLine): Promise<void> {
  const config = loadConfig(process.env);
  if (!config.DATABASE_URL) fail("DATABASE_URL: required for migrate");
  const targets = resolveTargets(values.target?.length ? values.target : ["all"]);
  const log = createLogger({ level: config.LOG_LEVEL, name: "nova-migrate" });
  const db = new Database({ writerUrl: config.DATABASE_URL, poolMax: 1, applicationName: "nova-migrate" });
  try {
    await runMigrations(db, targets, log);
  } finally {
    await db.close();
  }
}

async function certsCommand({ values, positionals }: CommandLine): Promise<void> {
  if (positionals[0] !== "dev") fail('usage: nova certs dev [--out DIR] (see "nova certs --help")');
  const config = loadConfig(process.env);
  const out = values.out ?? join(config.dataDir, "tls");
  const identities = Object.fromEntries(moduleNames.map((m) => [m, [m]]));
  const files = generateDevCerts(out, identities, { extraSans: values.san ?? [], force: values.force ?? false });
  const jwt = join(out, "jwt.key");
  if (values.force || !existsSync(jwt)) {
    const { generateSigningKeyPem } = await import("../platform/security/jwt.ts");
    writeFileSync(jwt, await generateSigningKeyPem(), { mode: 0o600 });
    files.push(jwt);
  }
  process.stdout.write(`${JSON.stringify({ dir: out, files })}\n`);
}

async function seedCommand({ values }: CommandLine): Promise<void> {
  const opts = {
    users: wholeNumberOption("users", values.users, 1_000, 2),
    followsPerUser: wholeNumberOption("follows-per-user", values["follows-per-user"], 20, 0),
    posts: wholeNumberOption("posts", values.posts, 10_000, 0),
    seed: wholeNumberOption("seed", values.seed, 1, 0),
  };
  const { SeedTakenError, seed } = await import("./seed.ts");
  const db = commandDatabase("seed", 2);
  try {
    await runMigrations(db, resolveTargets(["all"]), createLogger({ level: "warn", name: "nova-seed" }));
    const result = await seed(db.kysely<unknown>().writer, { ...opts, progress: progressBar(Date.now()) });
    const { userIds: _u, usernames, ...summary } = result;
    const made = usernames.length ? `${usernames[0]}…${usernames[usernames.length - 1]}` : "";
    process.stdout.write(`${JSON.stringify({ ...summary, usernames: made })}\n`);
  } catch (err) {
    if (err instanceof SeedTakenError) fail(err.message, 1);
    throw err;
  } finally {
    await db.close();
  }
}

/** A seed count option: a whole number from `min` to 10 million, `dflt` when absent. */
function wholeNumberOption(name: string, v: string | undefined, dflt: number, min: number): number {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < min || n > 10_000_000) fail(`--${name}: expected a whole number >= ${min}`);
  return n;
}

/** Seed progress as one redrawn bar on stderr per phase, with its rate since `started`. */
function progressBar(started: number): (phase: string, done: number, total: number) => void {
  return (phase, done, total) => {
    const width = 30;
    const filled = Math.round((done / Math.max(1, total)) * width);
    const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000));
    process.stderr.write(
      `\r${phase.padEnd(8)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} (${rate}/s)   ${done === total ? "\n" : ""}`,
    );
  };
}

async function adminCommand({ positionals, values }: CommandLine): Promise<void> {
  const [action, username] = positionals;
  if ((action !== "grant" && action !== "revoke") || !username) fail(HELP.admin as string);
  const granted = values.role ?? "admin";
  if (granted !== "admin" && granted !== "moderator") fail(HELP.admin as string);
  const role = action === "grant" ? granted : "user";
  const db = commandDatabase("admin", 1);
  try {
    const r = await db.writerPool.query("UPDATE identity.users SET role = $2 WHERE username = $1 RETURNING id", [
      username.toLowerCase(),
      role,
    ]);
    if (r.rowCount === 0) fail(`no user named ${username}`, 1);
    process.stdout.write(`${JSON.stringify({ username, id: r.rows[0].id, role })}\n`);
  } finally {
    await db.close();
  }
}

async function searchCliCommand({ values, positionals }: CommandLine): Promise<void> {
  const waitMs = waitMsOption(values["wait-ms"]);
  const [{ searchCommand }, { UsageError }] = await Promise.all([import("./search.ts"), import("./dlq.ts")]);
  const db = commandDatabase("search", 1);
  try {
    process.exitCode = await searchCommand(db.kysely<unknown>().writer, { action: positionals[0], waitMs });
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

async function dlqCliCommand({ values, positionals }: CommandLine): Promise<void> {
  const waitMs = waitMsOption(values["wait-ms"]);
  const { dlqCommand, UsageError } = await import("./dlq.ts");
  const db = commandDatabase("dlq", 2);
  try {
    process.exitCode = await dlqCommand(db.kysely<unknown>().writer, {
      action: positionals[0],
      id: positionals[1],
      all: values.all ?? false,
      consumer: values.consumer,
      waitMs,
    });
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

const commands: Record<Command, (line: CommandLine) => Promise<void>> = {
  start: startCommand,
  serve: serveCommand,
  migrate: migrateCommand,
  certs: certsCommand,
  seed: seedCommand,
  admin: adminCommand,
  search: searchCliCommand,
  dlq: dlqCliCommand,
};

/** Runs `command`; a configuration error exits 78 (EX_CONFIG). */
export async function runCommand(command: Command, line: CommandLine): Promise<void> {
  try {
    await commands[command](line);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 78);
    throw err;
  }
}
