/** Shared by the benchmarks: a scratch database on the harness's PostgreSQL, dropped afterwards. */

import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createDatabase } from "../scripts/lib/scratch.ts";
import { servicePids } from "../scripts/services.ts";
import { Database } from "../src/platform/db/pool.ts";

export interface ScratchDb {
  name: string;
  /** `base` (a harness URL: primary, replica, PgBouncer) pointed at the scratch database. */
  url(base: string): string;
  db: Database;
  /** Closes the pools and drops the database. */
  drop(): Promise<void>;
}

export async function scratchDatabase(
  adminUrl: string,
  opts: { poolMax: number; applicationName: string },
): Promise<ScratchDb> {
  const scratch = await createDatabase(adminUrl, "nova_bench");
  const db = new Database({ writerUrl: scratch.url(adminUrl), ...opts });
  return {
    name: scratch.name,
    url: scratch.url,
    db,
    async drop() {
      await db.close();
      await scratch.drop();
    },
  };
}

/** An existing database (e.g. one a benchmark kept with BENCH_KEEP_DB=1); drop() only closes the pools. */
export function existingDatabase(
  adminUrl: string,
  name: string,
  opts: { poolMax: number; applicationName: string },
): ScratchDb {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
  const url = (base: string) => {
    const u = new URL(base);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const db = new Database({ writerUrl: url(adminUrl), ...opts });
  return { name, url, db, drop: () => db.close() };
}

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 10) / 10;
}

export interface Proc {
  child: ChildProcess;
  out: () => string;
}

const repoRoot = new URL("..", import.meta.url).pathname;

/**
 * `nova <args>` as a child process (stdout and stderr kept, the last 20 KB), run from `root`'s
 * bin/nova.mjs (default this repository; another checkout, e.g. a `git worktree` of an older commit).
 */
export function nova(args: string[], env: Record<string, string>, root = repoRoot): Proc {
  let out = "";
  // BENCH_NODE_ARGS: extra Node flags for every Nova process a benchmark starts (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p");
  // BENCH_NODE_ARGS_TARGET=messaging: only for `nova serve --target=messaging`.
  const only = process.env.BENCH_NODE_ARGS_TARGET;
  const nodeArgs =
    !only || args.includes(`--target=${only}`) ? (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean) : [];
  const child = spawn(process.execPath, [...nodeArgs, join(root, "bin/nova.mjs"), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, out: () => out };
}

export async function stop(...ps: Proc[]): Promise<void> {
  await Promise.all(
    ps.map(
      (p) =>
        new Promise<void>((r) => {
          if (p.child.exitCode !== null) return r();
          p.child.once("exit", () => r());
          p.child.kill("SIGTERM");
          setTimeout(() => p.child.kill("SIGKILL"), 15_000).unref();
        }),
    ),
  );
}

export async function waitHttp(url: string, p: Proc, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (p.child.exitCode !== null) throw new Error(`process exited:\n${p.out()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer:\n${p.out()}`);
}

export async function gql(url: string, query: string, variables: Record<string, unknown>, token?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] } };
}

/** A field of a GraphQL answer, or an error that shows the answer. */
export function need<T>(r: { body: { data?: Record<string, unknown>; errors?: unknown[] } }, field: string): T {
  const v = r.body.data?.[field];
  if (v === undefined || v === null) throw new Error(`no ${field} in ${JSON.stringify(r.body).slice(0, 500)}`);
  return v as T;
}

export { metricValue as metric } from "../scripts/lib/metrics.ts";

/**
 * CPU time by process group between two readings (Linux /proc): each group is
 * a set of root pids with every descendant (PostgreSQL's backends, say), plus
 * `load_generator`, this process. Times in ms; a process that exits between
 * the readings loses its share (the pools here live for the whole run).
 */
export function cpuMeter(groups: () => Record<string, (number | undefined)[]>) {
  // USER_HZ: the unit of /proc/<pid>/stat's times on every Linux ABI Node runs on.
  const TICK_MS = 10;
  const read = (): Record<string, number> => {
    const procs = new Map<number, { ppid: number; ticks: number }>();
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = readFileSync(`/proc/${d}/stat`, "utf8");
        const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
        procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
      } catch {
        // gone meanwhile
      }
    }
    const children = new Map<number, number[]>();
    for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
    const treeTicks = (root: number): number => {
      let sum = 0;
      const todo = [root];
      for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
        sum += procs.get(pid)?.ticks ?? 0;
        todo.push(...(children.get(pid) ?? []));
      }
      return sum;
    };
    const out: Record<string, number> = {};
    for (const [name, roots] of Object.entries(groups())) {
      out[name] = roots.reduce<number>((a, r) => a + (r ? treeTicks(r) : 0), 0) * TICK_MS;
    }
    const self = process.cpuUsage();
    out.load_generator = (self.user + self.system) / 1000;
    return out;
  };
  return {
    start() {
      const a = read();
      return () => {
        const b = read();
        return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]));
      };
    },
  };
}

/**
 * The accounting every benchmark reports: CPU time by process group, from /proc (cpuMeter). `nova`
 * names the groups of Nova processes (usually one, `nova`; media's bench splits its media process
 * out); the harness's processes are added: PostgreSQL (primary and replica), PgBouncer, Redis,
 * Kafka, the object store, and `load_generator` (this process: autocannon, the WebSocket clients,
 * the senders).
 */
export function processMeter(nova: () => Record<string, (number | undefined)[]>) {
  return cpuMeter(() => {
    const p = servicePids();
    return {
      ...nova(),
      postgres: [p.postgres, p.replica],
      pgbouncer: [p.pgbouncer],
      redis: [p.redis],
      kafka: [p.kafka],
      s3: [p.s3],
    };
  });
}

/**
 * CPU ms per unit of work (a page, a message, a photo) by group, from a processMeter reading;
 * `servers` sums every group but the load generator, `all` every group.
 */
export function cpuPerUnit(used: Record<string, number>, units: number, digits = 3): Record<string, number> {
  const f = 10 ** digits;
  const per = (ms: number) => Math.round((f * ms) / Math.max(1, units)) / f;
  const servers = Object.entries(used)
    .filter(([k]) => k !== "load_generator")
    .reduce((a, [, v]) => a + v, 0);
  const all = servers + (used.load_generator ?? 0);
  return {
    ...Object.fromEntries(Object.entries(used).map(([k, v]) => [k, per(v)])),
    servers: per(servers),
    all: per(all),
  };
}

/**
 * The harness's object store as media's settings, for `nova serve` targets that include media (in
 * distributed mode media needs S3: its folder store works in one process only). A bucket of its own
 * per run (media makes it at start).
 */
export function s3Env(s: {
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
}): Record<string, string> {
  return {
    S3_ENDPOINT: s.s3.endpoint,
    S3_REGION: s.s3.region,
    S3_BUCKET: `nova-bench-${Date.now().toString(36)}`,
    S3_ACCESS_KEY_ID: s.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s.s3.secretAccessKey,
  };
}
