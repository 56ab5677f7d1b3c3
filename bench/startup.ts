/**
 * Start-up, the TypeScript sources through tsx (NOVA_RUN=src) against the compiled dist/
 * (NOVA_RUN=dist), side by side in one run: `nova --help`; `nova start` (embedded) to the first
 * GraphQL answer, cold (fresh data folder: initdb + migrations) and warm (existing data); and
 * `nova serve --target=graph` to ready (/readyz) against the harness's PostgreSQL, Redis and
 * Kafka, its migrations applied beforehand, with the steps the process reports in its "ready" log
 * line; and from dist/ on a fresh database it migrates at start (MIGRATE_ON_START), migrations apart. Builds dist/ first when it is missing or stale.
 * `node -e 0` is measured too: Node's own start, which no build removes.
 * BENCH_STARTUP_PARTS=help,start,serve (default all three) narrows it.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pickEntry } from "../bin/entry.mjs";
import { ensureServices } from "../scripts/services.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { generateDevCerts } from "../src/platform/rpc/tls.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { nova, type Proc, scratchDatabase, stop } from "./lib.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const MODES = ["src", "dist"] as const;
type Mode = (typeof MODES)[number];

const say = (s: string) => process.stderr.write(`${s}\n`);
const median = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number);

/** Wall time of one short command run to its exit. */
function timed(argv: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: root, env: { ...process.env, ...env }, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}`);
  return performance.now() - t0;
}

/** Milliseconds from spawning `p` (at t0) until `url` answers 200. */
async function until(url: string, p: Proc, t0: number, init?: RequestInit): Promise<number> {
  for (let i = 0; i < 2400; i++) {
    if (p.child.exitCode !== null) throw new Error(`exited before answering:\n${p.out()}`);
    try {
      if ((await fetch(url, init)).status === 200) return performance.now() - t0;
    } catch {}
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${url} did not answer within 60 s:\n${p.out()}`);
}

/** `nova start` on `dataDir` to its first GraphQL answer; one retry (on a busy machine its PostgreSQL has failed to start). */
async function start(mode: Mode, dataDir: string): Promise<number> {
  try {
    return await startOnce(mode, dataDir);
  } catch (err) {
    say(`nova start (${mode}) failed, once more: ${(err as Error).message.slice(-300)}`);
    return await startOnce(mode, dataDir);
  }
}

async function startOnce(mode: Mode, dataDir: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const p = nova(["start"], { NOVA_RUN: mode, NOVA_DATA_DIR: dataDir, PORT: String(port), ADMIN_PORT: "0" });
  try {
    return await until(`http://127.0.0.1:${port}/graphql`, p, t0, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query":"{ __typename }"}',
    });
  } finally {
    await stop(p);
  }
}

interface Served {
  /** Spawn to /readyz answering 200, as seen from here. */
  ms: number;
  /** The process's own account, from its "ready" log line: milliseconds per start-up step. */
  steps: Record<string, number>;
}

/** `nova serve --target=graph` to ready, with `env` (database, Redis, Kafka, TLS). */
async function serveGraph(mode: Mode, env: Record<string, string>): Promise<Served> {
  const admin = await freePort();
  const t0 = performance.now();
  const p = nova(["serve", "--target=graph"], {
    ...env,
    LOG_LEVEL: "info",
    NOVA_RUN: mode,
    RPC_PORT: String(await freePort()),
    ADMIN_PORT: String(admin),
  });
  try {
    const ms = await until(`http://127.0.0.1:${admin}/readyz`, p, t0);
    const m = /"startupMs":(\{[^}]*\})[^\n]*"msg":"ready"/.exec(p.out());
    return { ms, steps: m ? JSON.parse(m[1] as string) : {} };
  } finally {
    await stop(p);
  }
}

/** The same from dist/ on a fresh database that it migrates itself (MIGRATE_ON_START): migrations' share apart. */
async function serveGraphMigrating(admin: string, env: Record<string, string>): Promise<Served> {
  const scratch = await scratchDatabase(admin, { poolMax: 1, applicationName: "bench-startup" });
  try {
    return await serveGraph("dist", { ...env, DATABASE_URL: scratch.url(admin), MIGRATE_ON_START: "true" });
  } finally {
    await scratch.drop();
  }
}

function medianSteps(rs: Served[]): Record<string, number> {
  const keys = [...new Set(rs.flatMap((r) => Object.keys(r.steps)))];
  return Object.fromEntries(keys.map((k) => [k, median(rs.map((r) => r.steps[k] ?? 0))]));
}

function ensureBuilt(): void {
  if (pickEntry(root, undefined).kind === "dist") return;
  say("building dist/ (npm run build)");
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts/build.ts")], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("npm run build failed");
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  ensureBuilt();
  const rounds = quick ? 3 : 7;
  const help: Record<string, number[]> = { node: [], src: [], dist: [] };
  const parts = (process.env.BENCH_STARTUP_PARTS ?? "help,start,serve").split(",");
  for (let i = 0; i < (parts.includes("help") ? rounds : 0); i++) {
    help.node?.push(timed(["-e", "0"]));
    for (const m of MODES) help[m]?.push(timed([join(root, "bin/nova.mjs"), "--help"], { NOVA_RUN: m }));
  }
  say(
    `--help: src ${median(help.src ?? [])} ms, dist ${median(help.dist ?? [])} ms (node -e 0: ${median(help.node ?? [])} ms)`,
  );

  const startRounds = !parts.includes("start") ? 0 : quick ? 1 : 3;
  const cold: Record<Mode, number[]> = { src: [], dist: [] };
  const warm: Record<Mode, number[]> = { src: [], dist: [] };
  for (let i = 0; i < startRounds; i++)
    for (const m of MODES) {
      const dir = mkdtempSync(join(tmpdir(), "nova-bench-"));
      chmodSync(dir, 0o755);
      cold[m].push(await start(m, join(dir, "data")));
      warm[m].push(await start(m, join(dir, "data")));
      rmSync(dir, { recursive: true, force: true });
      say(`nova start (${m}): cold ${Math.round(cold[m].at(-1) ?? 0)} ms, warm ${Math.round(warm[m].at(-1) ?? 0)} ms`);
    }

  const s = await ensureServices();
  const scratch = await scratchDatabase(s.postgres, { poolMax: 2, applicationName: "bench-startup" });
  const tlsDir = mkdtempSync(join(tmpdir(), "nova-bench-tls-"));
  const serve: Record<Mode, Served[]> = { src: [], dist: [] };
  const migrating: Served[] = [];
  try {
    await runMigrations(scratch.db, resolveTargets(["graph"]), createLogger({ level: "warn" }));
    generateDevCerts(tlsDir, { graph: ["graph"] });
    const env = {
      DATABASE_URL: scratch.url(s.postgres),
      DATABASE_READ_URL: scratch.url(s.replica),
      REDIS_URL: s.redis,
      KAFKA_BROKERS: s.kafka,
      NOVA_TLS_DIR: tlsDir,
    };
    for (let i = 0; i < (parts.includes("serve") ? rounds : 0); i++) {
      for (const m of MODES) {
        const r = await serveGraph(m, env);
        serve[m].push(r);
        say(`nova serve --target=graph (${m}): ready in ${Math.round(r.ms)} ms ${JSON.stringify(r.steps)}`);
      }
      const r = await serveGraphMigrating(s.postgres, env);
      migrating.push(r);
      say(
        `nova serve --target=graph (dist, migrating a fresh database): ready in ${Math.round(r.ms)} ms ${JSON.stringify(r.steps)}`,
      );
    }
  } finally {
    rmSync(tlsDir, { recursive: true, force: true });
    await scratch.drop();
  }
  const byMode = (xs: Record<Mode, number[]>) => ({ src: median(xs.src), dist: median(xs.dist) });
  return {
    rounds,
    node_e0_ms: median(help.node ?? []),
    help_ms: { src: median(help.src ?? []), dist: median(help.dist ?? []) },
    start_cold_to_first_answer_ms: byMode(cold),
    start_warm_to_first_answer_ms: byMode(warm),
    // Spawn to /readyz, migrations done beforehand (the "serving within 1 s, migrations aside").
    serve_graph_ready_ms: byMode({ src: serve.src.map((r) => r.ms), dist: serve.dist.map((r) => r.ms) }),
    // The process's own steps from dist/ (its "ready" line), the median of each: beforeStart is Node's
    // start and the imports; consumers the Kafka client's import and the first join of each group.
    serve_graph_dist_steps_ms: medianSteps(serve.dist),
    // From dist/ on a fresh database it migrates at start: spawn to /readyz, and its steps (migrations among them).
    serve_graph_dist_migrating_ready_ms: median(migrating.map((r) => r.ms)),
    serve_graph_dist_migrating_steps_ms: medianSteps(migrating),
    samples: {
      help,
      start_cold: cold,
      start_warm: warm,
      serve_graph: { src: serve.src.map((r) => r.ms), dist: serve.dist.map((r) => r.ms) },
      serve_graph_migrating: migrating.map((r) => r.ms),
    },
  };
}
