/**
 * `nova` — start (embedded), serve (distributed targets), migrate, certs, dlq.
 */

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runningEmbeddedUrl } from "../platform/db/embedded.ts";
import { Database } from "../platform/db/pool.ts";
import { createLogger } from "../platform/observability/logger.ts";
import { generateDevCerts } from "../platform/rpc/tls.ts";
import { generateSigningKeyPem } from "../platform/security/jwt.ts";
import { type Nova, runMigrations, startNova } from "../runtime/app.ts";
import { ConfigError, loadConfig } from "../runtime/config.ts";
import { moduleNames, resolveTargets } from "../runtime/modules.ts";
import { dlqCommand, UsageError } from "./dlq.ts";
import { searchCommand } from "./search.ts";
import { SeedTakenError, seed } from "./seed.ts";
import { ensureWebClient } from "./web.ts";

const HELP: Record<string, string> = {
  main: `nova — the Nova social platform backend

Usage: nova <command> [options]

Commands:
  start                 run every module in one process on an embedded PostgreSQL
  serve --target=T      run the given modules (comma-separated, or "all") against real services
  migrate [--target=T]  apply pending database migrations
  certs dev             generate a development CA, mTLS certificates and a JWT signing key
  dlq list|replay       list events consumers gave up on; replay them after a fix
  admin grant|revoke U  give or take user U the admin (or --role moderator) role
  seed                  write a realistic, reproducible dataset (users, power-law follows, posts)
  search reindex        rebuild the search projection from the source services

Run "nova <command> --help" for a command's options.
Configuration comes from environment variables (see README, "Configuration").`,
  start: `nova start — everything in one process (embedded mode)

Starts embedded PostgreSQL (data under NOVA_DATA_DIR, default ./.nova), applies
migrations, and serves GraphQL at http://HOST:PORT/graphql (default 127.0.0.1:4000).
Set DATABASE_URL to use an existing PostgreSQL instead.`,
  serve: `nova serve --target=<module>[,<module>] — distributed mode

Targets: all, ${moduleNames.join(", ")}
Modules not in the target list are called over gRPC with mTLS at <MODULE>_ADDR
(default https://<module>:50051). Needs DATABASE_URL (through PgBouncer) for
modules that own a schema, DATABASE_READ_URL for the replica, and the TLS files
NOVA_TLS_CA_FILE / NOVA_TLS_CERT_FILE / NOVA_TLS_KEY_FILE (default
NOVA_TLS_DIR/ca.crt and NOVA_TLS_DIR/<targets joined by +>.crt/.key).`,
  migrate: `nova migrate [--target=<module>,…] — apply pending migrations (default: all modules)

Uses DATABASE_URL. Safe to run concurrently: runs take an advisory lock.`,
  certs: `nova certs dev [--out DIR] [--san DNS:name]… [--force]

Writes a development CA (ca.crt), one certificate and key per module
(<module>.crt/.key, URI SAN spiffe://nova/<module>) and an Ed25519 JWT signing
key (jwt.key) into DIR (default NOVA_DATA_DIR/tls). Never commit these.`,
  admin: `nova admin grant <username> [--role admin|moderator] | nova admin revoke <username>

Sets the user's role (admin, the default: may delete others' posts and comments
and moderate; moderator: works the moderation queue, may not act on admins). It shows
in the user's next access token (within 15 minutes, or at once after a new
login). Uses DATABASE_URL, or the embedded PostgreSQL of a running \`nova start\`.`,
  seed: `nova seed --users N --follows-per-user M --posts P [--seed S]

Writes N users, M follows each (power-law: a few celebrities), P posts over
the last 30 days with likes and comments, with their events, so the running
consumers build identity's counts and the feed. The same --seed (default 1)
gives the same dataset. Uses DATABASE_URL, or the embedded PostgreSQL of a
running \`nova start\` (run it beside one, so the events are consumed).`,
  search: `nova search reindex [--wait-ms N]

Asks the running search module to rebuild its projection (users, posts,
hashtags, blocks) from the identity, content and graph services' scan RPCs,
and shows its progress. Events arriving meanwhile are parked and replayed
after the scan, then the consumer resumes: nothing is missed. Exit 0 when
done, 1 when it failed (the consumer resumed on the old projection), 3 when
no search module took the job within --wait-ms (default 60 s; it stays
queued). Uses DATABASE_URL, or the embedded PostgreSQL of a running
\`nova start\`.`,
  dlq: `nova dlq list [--consumer X]
nova dlq replay <id> [--wait-ms N]
nova dlq replay --all [--consumer X] [--wait-ms N]

Lists the open DLQ entries of every service schema (one JSON object per line),
or asks the running consumers to replay entries and waits (default 60 s) for
the outcome: exit 0 when all were replayed, 1 when one failed again (its new
error is printed), 3 when no running consumer served the request in time (it
stays queued). Uses DATABASE_URL, or the embedded PostgreSQL of a running
\`nova start\` under NOVA_DATA_DIR.`,
};

function fail(message: string, code = 2): never {
  process.stderr.write(`nova: ${message}\n`);
  process.exit(code);
}

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

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const line = parseCommandLine(rest);
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${HELP.main}\n`);
    return;
  }
  if (line.values.help) {
    process.stdout.write(`${HELP[command] ?? HELP.main}\n`);
    return;
  }
  switch (command) {
    case "start":
      return startCommand();
    case "serve":
      return serveCommand(line);
    case "migrate":
      return migrateCommand(line);
    case "certs":
      return certsCommand(line);
    case "seed":
      return seedCommand(line);
    case "admin":
      return adminCommand(line);
    case "search":
      return searchCliCommand(line);
    case "dlq":
      return dlqCliCommand(line);
    default:
      fail(`unknown command "${command}"\n\n${HELP.main}`);
  }
}

/** The options of every command, parsed once: a command reads the ones it documents. */
function parseCommandLine(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      target: { type: "string", multiple: true },
      out: { type: "string" },
      san: { type: "string", multiple: true },
      force: { type: "boolean" },
      all: { type: "boolean" },
      consumer: { type: "string" },
      "wait-ms": { type: "string" },
      users: { type: "string" },
      "follows-per-user": { type: "string" },
      posts: { type: "string" },
      seed: { type: "string" },
      role: { type: "string" },
    },
  });
}

type CommandLine = ReturnType<typeof parseCommandLine>;

async function startCommand(): Promise<void> {
  const config = loadConfig(process.env, { identity: "all" });
  const started = Date.now();
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

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) fail(err.message, 78);
  process.stderr.write(`nova: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
