/**
 * What `nova` says and accepts: the help texts and the command line. Kept apart from the commands
 * (commands.ts) so that `nova --help` and a mistyped command load nothing of the runtime.
 */
import { parseArgs } from "node:util";

/** The commands (commands.ts implements each one). */
export const COMMANDS = ["start", "serve", "migrate", "certs", "seed", "admin", "search", "dlq"] as const;

export type Command = (typeof COMMANDS)[number];

export function isCommand(s: string): s is Command {
  return (COMMANDS as readonly string[]).includes(s);
}

/** The help of each command; `{modules}` (in serve's) is filled in from runtime/modules.ts when shown. */
export const HELP: Record<string, string> = {
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

Targets: all, {modules}
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

export function fail(message: string, code = 2): never {
  process.stderr.write(`nova: ${message}\n`);
  process.exit(code);
}

/** The options of every command, parsed once: a command reads the ones it documents. */
export function parseCommandLine(args: string[]) {
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

export type CommandLine = ReturnType<typeof parseCommandLine>;
