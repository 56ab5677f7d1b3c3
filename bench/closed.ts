/**
 * The closed-loop feed load: `nova start` on the harness PostgreSQL, a
 * dataset seeded by `nova seed --users 600 --follows-per-user 10 --posts 3000
 * --seed 7`, and autocannon driving the home-feed GraphQL query (feed(first:
 * 20) with author, counts and viewer state) over 20 connections for 20 s
 * (--quick: 5 s), each request signed by one of 20 seeded readers in turn.
 * A closed loop: each connection sends its next request when the last one
 * answered, so the pages/s is what Nova serves flat out, and the CPU time per
 * page (Nova's process tree, the PostgreSQL server's) is the cost of one.
 *
 * Variants side by side: `HEAD` (this tree) and, with `--against <git-ref>`,
 * that commit in a temporary `git worktree` under /tmp (sharing this tree's
 * node_modules), each run from its own bin/nova.mjs on a scratch database it
 * migrated and seeded with its own code. They run alternately, two rounds
 * each (A, B, A, B), so drift on a busy machine shows; every round is
 * reported, and the median per variant. The load generator shares the cores.
 *
 * Each round ends with the in-memory ceiling (bench/ceiling.ts: the same query, the same
 * generator, Fastify + Mercurius + graphql-jit over in-memory data of the seed's shape), and HEAD's
 * CPU per page and pages/s are reported as ratios to it (`ratio_to_ceiling`). CPU is counted by
 * process group (processMeter: Nova, PostgreSQL, PgBouncer, Redis, Kafka, S3, the load generator).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { ensureServices, overPrimarySocket } from "../scripts/services.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import {
  cpuPerUnit,
  gql,
  metric,
  need,
  nova,
  type Proc,
  processMeter,
  type ScratchDb,
  scratchDatabase,
  stop,
  waitHttp,
} from "./lib.ts";

const root = new URL("..", import.meta.url).pathname;
const t00 = Date.now();
const say = (m: string) => process.stderr.write(`closed [${((Date.now() - t00) / 1000).toFixed(1)} s]: ${m}\n`);
const FEED = `query($f: Int) { feed(first: $f) { edges { node { id text createdAt author { username displayName }
  likeCount commentCount viewerHasLiked viewerHasBookmarked } } pageInfo { hasNextPage endCursor } } }`;
const SIZE = { users: 600, followsPerUser: 10, posts: 3_000, seed: 7 };
const READERS = 20;
const CONNECTIONS = 20;
const ROUNDS = 2;
/** The gateway's rate limits, raised far above what a run sends (still in the path, as in production). */
const RAISED = {
  GATEWAY_RATE_USER_QUERIES: "1000000000",
  GATEWAY_RATE_USER_MUTATIONS: "1000000000",
  GATEWAY_RATE_IP_QUERIES: "1000000000",
  GATEWAY_RATE_IP_MUTATIONS: "1000000000",
};

interface Variant {
  name: "HEAD" | "against" | "ceiling";
  ref: string;
  commit: string;
  /** The checkout whose bin/nova.mjs runs. */
  root: string;
}

interface RoundResult {
  variant: string;
  round: number;
  seed_seconds: number;
  catch_up_seconds: number;
  /** Posts on a reader's first page (the mean over the readers, fetched once before the load). */
  edges_per_page: number;
  requests: number;
  pages: number;
  pages_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Connection errors and timeouts (autocannon's `errors`). */
  errors: number;
  non2xx: number;
  /** 2xx answers carrying GraphQL errors (not counted as pages). */
  graphql_errors: number;
  cpu_ms: { nova: number; postgres: number; load_generator: number };
  /** nova: the Nova process tree (the ceiling's process in the ceiling variant); total: nova + postgres. */
  cpu_ms_per_page: { nova: number; postgres: number; total: number };
  /** Every process group (processMeter): Nova, PostgreSQL, PgBouncer, Redis, Kafka, S3, the load generator. */
  cpu_ms_per_page_by_group: Record<string, number>;
  /** The most resident memory of the `nova start` process sampled during the load, and its lifetime peak (VmHWM). */
  nova_rss_mb: number;
  nova_hwm_mb: number;
}

function statusMb(pid: number | undefined, field: "VmRSS" | "VmHWM"): number {
  if (!pid) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function exited(p: Proc): Promise<number | null> {
  if (p.child.exitCode !== null) return Promise.resolve(p.child.exitCode);
  return new Promise((r) => p.child.once("exit", (code) => r(code)));
}

/** `nova seed` from the variant's tree on `dbUrl`; returns its summary (the JSON line it prints). */
async function seedWith(v: Variant, dbUrl: string): Promise<{ follows: number; password: string; seconds: number }> {
  const args = ["seed", "--users", String(SIZE.users), "--follows-per-user", String(SIZE.followsPerUser)];
  args.push("--posts", String(SIZE.posts), "--seed", String(SIZE.seed));
  const p = nova(args, { DATABASE_URL: dbUrl }, v.root);
  const code = await exited(p);
  const line = p
    .out()
    .split(/[\r\n]/)
    .filter((l) => l.startsWith("{"))
    .pop();
  if (code !== 0 || !line) throw new Error(`${v.name}: nova seed failed (exit ${code}):\n${p.out()}`);
  return JSON.parse(line);
}

/**
 * Waits until the consumers built the projections from the seeded events: the feed's first, then every
 * other consumer quiet (fewer than 100 statements in each of 3 seconds in a row), as bench/feed.ts waits.
 * Returns the seconds it took.
 */
async function caughtUp(v: Variant, p: Proc, scratch: ScratchDb, metrics: string, follows: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const r = await scratch.db.writerPool.query(
      "SELECT (SELECT count(*) FROM feed.posts)::int AS posts, (SELECT count(*) FROM feed.follows)::int AS follows",
    );
    if (r.rows[0].posts >= SIZE.posts && r.rows[0].follows >= follows) break;
    if (Date.now() - t0 > 900_000) throw new Error(`${v.name}: consumers did not catch up`);
    if (p.child.exitCode !== null) throw new Error(`${v.name}: nova start exited:\n${p.out()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  let statements = await metric(metrics, "nova_db_queries_total");
  for (let quiet = 0; quiet < 3; ) {
    if (Date.now() - t0 > 900_000) throw new Error(`${v.name}: consumers did not catch up`);
    await new Promise((r) => setTimeout(r, 1_000));
    const now = await metric(metrics, "nova_db_queries_total");
    quiet = now - statements < 100 ? quiet + 1 : 0;
    statements = now;
  }
  return (Date.now() - t0) / 1000;
}

/**
 * Signs in READERS seeded users spread over the dataset (the seed's usernames end in their index) and
 * fetches each one's feed once (building the timeline). Returns their tokens and the posts on those
 * first pages: a reader with an empty feed would make the pages cheap.
 */
async function signIn(v: Variant, url: string, scratch: ScratchDb, password: string) {
  const users = await scratch.db.writerPool.query<{ username: string }>(
    "SELECT username FROM identity.users WHERE username LIKE $1",
    [`seed${SIZE.seed}\\_%`],
  );
  const names = users.rows
    .map((r) => r.username)
    .sort((a, b) => Number(a.split("_").pop()) - Number(b.split("_").pop()));
  if (names.length < READERS) throw new Error(`${v.name}: only ${names.length} seeded users`);
  const tokens: string[] = [];
  for (let i = 0; i < READERS; i++) {
    const u = names[Math.floor((i * names.length) / READERS)];
    const r = await gql(url, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {
      i: { identifier: u, password },
    });
    tokens.push(need<{ accessToken: string }>(r, "login").accessToken);
  }
  let edges = 0;
  for (const t of tokens) edges += need<{ edges: unknown[] }>(await gql(url, FEED, { f: 20 }, t), "feed").edges.length;
  if (edges === 0) throw new Error(`${v.name}: every reader's feed is empty`);
  return { tokens, edges };
}

/** One variant once: a fresh scratch database, seeded, `nova start` caught up, then the closed-loop load. */
async function runOnce(v: Variant, round: number, seconds: number): Promise<RoundResult> {
  const s = await ensureServices();
  const scratch = await scratchDatabase(s.postgres, { poolMax: 2, applicationName: "bench-closed" });
  const dataDir = mkdtempSync(join(tmpdir(), "nova-closed-data-"));
  let p: Proc | undefined;
  try {
    // `nova start` reaches its own PostgreSQL over a Unix socket; the seed and the runs here do the same.
    const dbUrl = overPrimarySocket(scratch.url(s.postgres));
    const seeded = await seedWith(v, dbUrl);
    say(`${v.name} round ${round}: seeded in ${seeded.seconds} s (${seeded.follows} follows)`);

    const port = await freePort();
    const admin = await freePort();
    p = nova(
      ["start"],
      {
        ...RAISED,
        DATABASE_URL: dbUrl,
        PORT: String(port),
        ADMIN_PORT: String(admin),
        NOVA_DATA_DIR: dataDir,
        FEED_CELEBRITY_THRESHOLD: "1000000",
      },
      v.root,
    );
    const base = `http://127.0.0.1:${port}`;
    const url = `${base}/graphql`;
    const metrics = `http://127.0.0.1:${admin}/metrics`;
    await waitHttp(`${base}/healthz`, p, 120_000);

    const catchUp = await caughtUp(v, p, scratch, metrics, seeded.follows);
    const { tokens, edges } = await signIn(v, url, scratch, seeded.password);
    say(`${v.name} round ${round}: caught up in ${catchUp} s; ${READERS} readers signed in; load for ${seconds} s`);

    const pid = p.child.pid;
    const d = await drive(
      url,
      tokens,
      seconds,
      processMeter(() => ({ nova: [pid] })),
      pid,
    );
    const out = result(v.name, round, { seed: seeded.seconds, catchUp, edges: edges / READERS }, d);
    return out;
  } finally {
    if (p) await stop(p);
    await scratch.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The closed-loop load on `url` for `seconds`: autocannon, CONNECTIONS connections, the tokens in turn. */
async function drive(
  url: string,
  tokens: string[],
  seconds: number,
  meter: ReturnType<typeof processMeter>,
  pid?: number,
) {
  let rss = 0;
  const sampler = setInterval(() => {
    rss = Math.max(rss, statusMb(pid, "VmRSS"));
  }, 250);
  let next = 0;
  let graphqlErrors = 0;
  const body = JSON.stringify({ query: FEED, variables: { f: 20 } });
  const cpu = meter.start();
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    requests: [
      {
        setupRequest: (req) => {
          const token = tokens[next++ % tokens.length] as string;
          return { ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } };
        },
        onResponse: (status, text) => {
          if (status >= 200 && status < 300 && text.includes('"errors"')) graphqlErrors++;
        },
      },
    ],
  });
  const used = cpu();
  clearInterval(sampler);
  rss = Math.max(rss, statusMb(pid, "VmRSS"));
  return { r, used, graphqlErrors, rss, hwm: statusMb(pid, "VmHWM") };
}

function result(
  variant: string,
  round: number,
  prep: { seed: number; catchUp: number; edges: number },
  d: Awaited<ReturnType<typeof drive>>,
): RoundResult {
  const { r, used } = d;
  const pages = Math.max(0, r["2xx"] - d.graphqlErrors);
  const perPage = (ms: number) => round3(ms / Math.max(1, pages));
  const nova_ = used.nova ?? 0;
  const postgres = used.postgres ?? 0;
  const out: RoundResult = {
    variant,
    round,
    seed_seconds: prep.seed,
    catch_up_seconds: prep.catchUp,
    edges_per_page: round1(prep.edges),
    requests: r.requests.total,
    pages,
    pages_per_s: round1(pages / r.duration),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
    graphql_errors: d.graphqlErrors,
    cpu_ms: { nova: nova_, postgres, load_generator: Math.round(used.load_generator ?? 0) },
    cpu_ms_per_page: { nova: perPage(nova_), postgres: perPage(postgres), total: perPage(nova_ + postgres) },
    cpu_ms_per_page_by_group: cpuPerUnit(used, pages),
    nova_rss_mb: d.rss,
    nova_hwm_mb: d.hwm,
  };
  say(
    `${variant} round ${round}: ${out.pages_per_s} pages/s, p50 ${out.p50_ms} p99 ${out.p99_ms} ms, ` +
      `errors ${out.errors} non-2xx ${out.non2xx} GraphQL errors ${out.graphql_errors}; CPU ms/page ` +
      `${JSON.stringify(out.cpu_ms_per_page_by_group)}; RSS ${d.rss} MB`,
  );
  return out;
}

/**
 * The in-memory ceiling (bench/ceiling.ts) once: its own process on data of SIZE's shape, READERS
 * readers spread over the users as signIn spreads them, warmed (graphql-jit compiles the query),
 * then the same closed-loop load with the same generator.
 */
async function runCeiling(round: number, seconds: number): Promise<RoundResult> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/ceiling.ts")], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      CEILING_USERS: String(SIZE.users),
      CEILING_FOLLOWS: String(SIZE.followsPerUser),
      CEILING_POSTS: String(SIZE.posts),
      CEILING_SEED: String(SIZE.seed),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (b: Buffer) => {
    log += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    log += b.toString();
  });
  const p: Proc = { child, out: () => log };
  try {
    const url = `http://127.0.0.1:${port}/graphql`;
    for (let i = 0; i < 600 && !log.includes("listening"); i++) {
      if (child.exitCode !== null) throw new Error(`the ceiling exited:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const tokens = Array.from({ length: READERS }, (_, i) => `u${Math.floor((i * SIZE.users) / READERS)}`);
    let edges = 0;
    for (const t of tokens)
      edges += need<{ edges: unknown[] }>(await gql(url, FEED, { f: 20 }, t), "feed").edges.length;
    const pid = child.pid;
    const d = await drive(
      url,
      tokens,
      seconds,
      processMeter(() => ({ nova: [pid] })),
      pid,
    );
    return result("ceiling", round, { seed: 0, catchUp: 0, edges: edges / READERS }, d);
  } finally {
    await stop(p);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The median of each measure over a variant's rounds. */
function summarise(rounds: RoundResult[]) {
  const med = (f: (r: RoundResult) => number) => median(rounds.map(f));
  return {
    pages_per_s: round1(med((r) => r.pages_per_s)),
    p50_ms: round1(med((r) => r.p50_ms)),
    p99_ms: round1(med((r) => r.p99_ms)),
    errors: med((r) => r.errors),
    non2xx: med((r) => r.non2xx),
    graphql_errors: med((r) => r.graphql_errors),
    cpu_ms_per_page: {
      nova: round3(med((r) => r.cpu_ms_per_page.nova)),
      postgres: round3(med((r) => r.cpu_ms_per_page.postgres)),
      total: round3(med((r) => r.cpu_ms_per_page.total)),
    },
    cpu_ms_per_page_by_group: Object.fromEntries(
      Object.keys(rounds[0]?.cpu_ms_per_page_by_group ?? {}).map((k) => [
        k,
        round3(med((r) => r.cpu_ms_per_page_by_group[k] ?? 0)),
      ]),
    ),
    nova_rss_mb: med((r) => r.nova_rss_mb),
    nova_hwm_mb: med((r) => r.nova_hwm_mb),
  };
}

function git(args: string[]): string {
  return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

export async function run(quick: boolean, against?: string): Promise<Record<string, unknown>> {
  const started = Date.now();
  const seconds = quick ? 5 : 20;
  await ensureServices();
  // HEAD is this tree as it is: its commit, marked "-dirty" when tracked files have changes on top.
  const dirty = git(["status", "--porcelain", "--untracked-files=no"]) !== "";
  const head = `${git(["rev-parse", "HEAD"])}${dirty ? "-dirty" : ""}`;
  const variants: Variant[] = [{ name: "HEAD", ref: "HEAD", commit: head, root }];
  let worktree: string | undefined;
  try {
    if (against) {
      const commit = git(["rev-parse", "--verify", `${against}^{commit}`]);
      worktree = join(mkdtempSync(join(tmpdir(), "nova-closed-")), "tree");
      git(["worktree", "add", "--detach", worktree, commit]);
      // Some older commits track a node_modules symlink (to another checkout's): replaced by this tree's.
      rmSync(join(worktree, "node_modules"), { recursive: true, force: true });
      symlinkSync(realpathSync(join(root, "node_modules")), join(worktree, "node_modules"));
      variants.push({ name: "against", ref: against, commit, root: worktree });
      say(`against ${against} (${commit.slice(0, 12)}) checked out in ${worktree}`);
    }
    const rounds: RoundResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of variants) rounds.push(await runOnce(v, round, seconds));
      rounds.push(await runCeiling(round, seconds));
    }
    const out: Record<string, unknown> = {
      quick,
      total_seconds: (Date.now() - started) / 1000,
      dataset: SIZE,
      readers: READERS,
      connections: CONNECTIONS,
      seconds_per_round: seconds,
      rounds,
    };
    const summary: Record<string, ReturnType<typeof summarise> & { ref?: string; commit?: string }> =
      Object.fromEntries(
        variants.map((v) => [
          v.name,
          { ref: v.ref, commit: v.commit, ...summarise(rounds.filter((r) => r.variant === v.name)) },
        ]),
      );
    summary.ceiling = summarise(rounds.filter((r) => r.variant === "ceiling"));
    out.variants = summary;
    // HEAD against the in-memory ceiling, each round against the ceiling run right after it (the
    // machine's load drifts), then the median. The targets: CPU per page (Nova + PostgreSQL
    // against the ceiling's process) at most 3x, pages/s at least 0.25x.
    const perRound = rounds
      .filter((r) => r.variant === "HEAD")
      .map((h) => {
        const c = rounds.find((r) => r.variant === "ceiling" && r.round === h.round) as RoundResult;
        return {
          round: h.round,
          cpu_ms_per_page: round3(h.cpu_ms_per_page.total / Math.max(0.001, c.cpu_ms_per_page.total)),
          pages_per_s: round3(h.pages_per_s / Math.max(0.1, c.pages_per_s)),
        };
      });
    out.ratio_to_ceiling = {
      cpu_ms_per_page: round3(median(perRound.map((r) => r.cpu_ms_per_page))),
      pages_per_s: round3(median(perRound.map((r) => r.pages_per_s))),
      targets: { cpu_ms_per_page: "<= 3", pages_per_s: ">= 0.25" },
      rounds: perRound,
    };
    const head = summary.HEAD;
    const base = summary.against;
    if (head && base) {
      const ratio = (a: number, b: number) => (b > 0 ? round3(a / b) : null);
      // HEAD / against: above 1 for pages/s is faster; below 1 for CPU-ms per page is cheaper.
      out.ratio = {
        pages_per_s: ratio(head.pages_per_s, base.pages_per_s),
        cpu_ms_per_page_nova: ratio(head.cpu_ms_per_page.nova, base.cpu_ms_per_page.nova),
        cpu_ms_per_page_postgres: ratio(head.cpu_ms_per_page.postgres, base.cpu_ms_per_page.postgres),
        cpu_ms_per_page_total: ratio(head.cpu_ms_per_page.total, base.cpu_ms_per_page.total),
      };
    }
    return out;
  } finally {
    if (worktree) {
      try {
        git(["worktree", "remove", "--force", worktree]);
      } catch (e) {
        say(`could not remove the worktree ${worktree}: ${(e as Error).message}`);
      }
      rmSync(join(worktree, ".."), { recursive: true, force: true });
    }
  }
}
