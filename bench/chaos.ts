/**
 * `npm run chaos [-- --quick]`: the distributed topology on the harness with Toxiproxy in front of the
 * dependency edges that config can route, a mixed load that records every accepted write, and one
 * fault at a time; after each, the invariants (ARCHITECTURE §4's promises) are checked against the
 * database. Progress on stderr, ONE JSON report as the last line of stdout; exit 1 when an invariant
 * failed (a write lost or doubled, a count off, a new DLQ row, a request hung past its deadline).
 *
 * Processes: content, feed, identity+graph+media ("core"), the other services ("rest"), the relay and the gateway,
 * each with its own proxies to PgBouncer, the replica and Redis; the gateway reaches content through
 * a proxy. Kafka is not proxied: its clients reconnect to the broker's advertised address.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { ensureServices } from "../scripts/services.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { generateDevCerts } from "../src/platform/rpc/tls.ts";
import { modules, resolveTargets } from "../src/runtime/modules.ts";
import { nova, type Proc, pct, s3Env, stop } from "./lib.ts";

const quick = process.argv.includes("--quick");
const t00 = Date.now();
const say = (m: string) => process.stderr.write(`chaos [${((Date.now() - t00) / 1000).toFixed(1)} s]: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Past the gateway's own deadline (REQUEST_TIMEOUT_MS, 10 s): an answer later than this is a hung request. */
const CLIENT_TIMEOUT_MS = 12_000;
const FAULT_S = quick ? 20 : 45;
const BASELINE_S = quick ? 15 : 30;
const WORKERS = quick ? 6 : 10;

// ---------------------------------------------------------------- toxiproxy

class Toxiproxy {
  constructor(
    readonly api: string,
    readonly child: ChildProcess,
  ) {}

  static async start(): Promise<Toxiproxy> {
    const bin = join(process.env.NOVA_CACHE_DIR || join(homedir(), ".cache/nova"), "bin", "toxiproxy-server");
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run node --import tsx scripts/install.ts`);
    const port = await freePort();
    const child = spawn(bin, ["-host", "127.0.0.1", "-port", String(port)], { stdio: "ignore" });
    const t = new Toxiproxy(`http://127.0.0.1:${port}`, child);
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`${t.api}/version`)).ok) return t;
      } catch {}
      await sleep(100);
    }
    throw new Error("toxiproxy-server did not answer");
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await fetch(`${this.api}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? undefined : r.json();
  }

  /** A proxy on a free loopback port in front of `upstream` (host:port); returns its port. */
  async proxy(name: string, upstream: string): Promise<number> {
    const port = await freePort();
    await this.call("POST", "/proxies", { name, listen: `127.0.0.1:${port}`, upstream, enabled: true });
    return port;
  }

  async toxic(proxy: string, toxic: Record<string, unknown>): Promise<void> {
    await this.call("POST", `/proxies/${proxy}/toxics`, toxic);
  }

  async clear(proxy: string): Promise<void> {
    const toxics = (await this.call("GET", `/proxies/${proxy}/toxics`)) as { name: string }[];
    for (const t of toxics) await this.call("DELETE", `/proxies/${proxy}/toxics/${t.name}`);
  }
}

/** `url` (postgres:// or redis://) with host:port swapped for the proxy's. */
function via(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u.toString();
}
const hostPort = (url: string) => {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
};

// ---------------------------------------------------------------- topology

interface Service {
  name: string;
  target: string;
  env: Record<string, string>;
  health: string;
  proc?: Proc;
}

async function topology(s: Awaited<ReturnType<typeof ensureServices>>, tox: Toxiproxy, dir: string) {
  const tls = join(dir, "tls");
  // Two processes for the services the experiments do not pick on (a certificate's CN holds 64 characters).
  const core = ["identity", "graph", "media"];
  const rest = ["messaging", "notifications", "search", "moderation", "realtime"];
  const certs = nova(["certs", "dev", "--out", tls], {});
  await new Promise<void>((ok, no) => certs.child.once("exit", (c) => (c === 0 ? ok() : no(new Error(certs.out())))));
  // The process's identity is its modules in start order, joined by "+".
  for (const group of [core, rest]) generateDevCerts(tls, { [resolveTargets([group.join(",")]).join("+")]: group });
  const migrate = nova(["migrate"], { DATABASE_URL: s.pgbouncer });
  await new Promise<void>((ok, no) =>
    migrate.child.once("exit", (c) => (c === 0 ? ok() : no(new Error(migrate.out())))),
  );
  const rpc = { content: await freePort(), feed: await freePort(), core: await freePort(), rest: await freePort() };
  const gwContent = await tox.proxy("gateway-content", `127.0.0.1:${rpc.content}`);
  const addr = (m: string) => {
    const p = m === "content" ? rpc.content : m === "feed" ? rpc.feed : core.includes(m) ? rpc.core : rpc.rest;
    return `https://127.0.0.1:${p}`;
  };
  const addrs = (over: Record<string, string> = {}) => ({
    ...Object.fromEntries(modules.gateway.deps.map((m) => [`${m.toUpperCase()}_ADDR`, addr(m)])),
    ...over,
  });
  // Every process its own proxies, so one process's edge can be made sick alone.
  const edges = async (name: string, redis = true) => ({
    DATABASE_URL: via(s.pgbouncer, await tox.proxy(`${name}-pgbouncer`, hostPort(s.pgbouncer))),
    DATABASE_READ_URL: via(s.replica, await tox.proxy(`${name}-replica`, hostPort(s.replica))),
    ...(redis ? { REDIS_URL: via(s.redis, await tox.proxy(`${name}-redis`, hostPort(s.redis))) } : {}),
  });
  const common = { KAFKA_BROKERS: s.kafka, NOVA_TLS_DIR: tls, ...s3Env(s), ...addrs() };
  const svc = async (name: string, target: string, port: number, extra: Record<string, string> = {}) => {
    const admin = await freePort();
    const env = { ...common, ...(await edges(name)), RPC_PORT: String(port), ADMIN_PORT: String(admin), ...extra };
    return { name, target, env, health: `http://127.0.0.1:${admin}/healthz` } satisfies Service;
  };
  const relayAdmin = await freePort();
  const gwPort = await freePort();
  const services: Service[] = [
    await svc("core", core.join(","), rpc.core, { JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key"), SMTP_URL: s.smtp }),
    await svc("rest", rest.join(","), rpc.rest),
    await svc("content", "content", rpc.content),
    await svc("feed", "feed", rpc.feed),
    {
      name: "relay",
      target: "relay",
      env: { ...(await edges("relay", false)), KAFKA_BROKERS: s.kafka, ADMIN_PORT: String(relayAdmin) },
      health: `http://127.0.0.1:${relayAdmin}/healthz`,
    },
    {
      name: "gateway",
      target: "gateway",
      env: {
        ...common,
        ...addrs({ CONTENT_ADDR: `https://127.0.0.1:${gwContent}` }),
        REDIS_URL: via(s.redis, await tox.proxy("gateway-redis", hostPort(s.redis))),
        PORT: String(gwPort),
        ADMIN_PORT: String(await freePort()),
        // One load generator on loopback is every "client": per-IP budgets would be the thing measured.
        GATEWAY_RATE_IP_QUERIES: "1000000",
        GATEWAY_RATE_IP_MUTATIONS: "1000000",
        GATEWAY_RATE_USER_MUTATIONS: "100000",
        GATEWAY_RATE_MAIL_PER_IP: "0",
        GATEWAY_RATE_MAIL_PER_ADDRESS: "0",
      },
      health: `http://127.0.0.1:${gwPort}/healthz`,
    },
  ];
  return { services, url: `http://127.0.0.1:${gwPort}/graphql` };
}

/** Like lib's waitHttp, but every probe has a deadline: a process that accepts and never answers is not ready. */
async function waitHealthy(url: string, p: Proc, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (p.child.exitCode !== null) throw new Error(`process exited:\n${p.out()}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {}
    await sleep(200);
  }
  throw new Error(`${url} did not answer:\n${p.out()}`);
}

/** Starts a process and waits until it answers; one that exits while starting is started again, as an orchestrator would. */
async function startService(sv: Service): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    sv.proc = nova(["serve", `--target=${sv.target}`], sv.env);
    try {
      // Six processes start at once on two busy cores (over 4 min at a load average of 30).
      await waitHealthy(sv.health, sv.proc, 600_000);
      say(`  ${sv.name} answers`);
      return;
    } catch (err) {
      // On a fresh broker a consumer can start before its auto-created topic has a leader ("Unknown topic").
      if (attempt >= 3 || sv.proc.child.exitCode === null) throw err;
      say(`${sv.name} exited while starting (${(err as Error).message.split("\n").slice(1, 3).join(" ")}); again`);
      await sleep(2_000);
    }
  }
}

// ---------------------------------------------------------------- load

type Kind = "signup" | "post" | "like" | "comment" | "follow" | "feed" | "profile";
interface Sample {
  kind: Kind;
  at: number;
  ms: number;
  ok: boolean;
  hung: boolean;
  /** why it failed: the GraphQL error code, the HTTP status or the transport error's name */
  why?: string;
}
interface User {
  id: string;
  username: string;
  token: string;
}

class Load {
  users: User[] = [];
  posts: string[] = [];
  samples: Sample[] = [];
  accepted = {
    signup: [] as string[],
    post: [] as { id: string; tag: string }[],
    comment: [] as { id: string; tag: string }[],
    like: new Map<string, [string, string]>(),
    follow: new Map<string, [string, string]>(),
  };
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(readonly url: string) {}

  /** One GraphQL request with the client deadline; retried (same Idempotency-Key) on a transient failure. */
  async gql(
    kind: Kind,
    query: string,
    variables: Record<string, unknown>,
    token?: string,
  ): Promise<Record<string, unknown> | undefined> {
    const key = kind === "feed" || kind === "profile" ? undefined : randomBytes(12).toString("hex");
    for (let attempt = 0; attempt < 3; attempt++) {
      const t0 = performance.now();
      let ok = false;
      let hung = false;
      let retry = false;
      let data: Record<string, unknown> | undefined;
      let why: string | undefined;
      try {
        const res = await fetch(this.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(key ? { "idempotency-key": key } : {}),
          },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
        });
        const body = (await res.json()) as {
          data?: Record<string, unknown>;
          errors?: { extensions?: { code?: string } }[];
        };
        ok = res.status === 200 && !body.errors && body.data !== undefined && body.data !== null;
        if (ok) data = body.data as Record<string, unknown>;
        const code = body.errors?.[0]?.extensions?.code;
        if (!ok) why = code ?? `HTTP ${res.status}`;
        retry = !ok && (res.status >= 500 || code === "UNAVAILABLE" || code === "DEADLINE_EXCEEDED");
      } catch (err) {
        hung = (err as Error).name === "TimeoutError";
        why = (err as Error).name;
        retry = true;
      }
      this.samples.push({ kind, at: Date.now(), ms: performance.now() - t0, ok, hung, why });
      if (ok) return data;
      if (!retry || !key || !this.running) return undefined;
      await sleep(300);
    }
    return undefined;
  }

  private pick<T>(xs: T[]): T | undefined {
    return xs[Math.floor(Math.random() * xs.length)];
  }

  async signup(): Promise<User | undefined> {
    const username = `cx_${randomBytes(5).toString("hex")}`;
    const d = await this.gql(
      "signup",
      "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id username } } }",
      { i: { email: `${username}@chaos.example`, username, password: "correct horse battery" } },
    );
    const r = d?.register as { accessToken: string; user: { id: string; username: string } } | undefined;
    if (!r) return undefined;
    const u = { id: r.user.id, username: r.user.username, token: r.accessToken };
    this.users.push(u);
    this.accepted.signup.push(u.id);
    return u;
  }

  async post(u: User): Promise<void> {
    const tag = `chaos-${randomBytes(8).toString("hex")}`;
    const d = await this.gql(
      "post",
      "mutation($i: CreatePostInput!) { createPost(input: $i) { id } }",
      { i: { text: tag } },
      u.token,
    );
    const id = (d?.createPost as { id: string } | undefined)?.id;
    if (!id) return;
    this.posts.push(id);
    this.accepted.post.push({ id, tag });
  }

  private async op(): Promise<void> {
    const u = this.pick(this.users);
    const p = this.pick(this.posts);
    const r = Math.random() * 100;
    if (!u) return void (await this.signup());
    if (r < 3) await this.signup();
    else if (r < 15 || !p) await this.post(u);
    else if (r < 30) {
      const d = await this.gql("like", "mutation($p: ID!) { likePost(postId: $p) { id } }", { p }, u.token);
      if (d) this.accepted.like.set(`${p}:${u.id}`, [p, u.id]);
    } else if (r < 40) {
      const tag = `chaos-${randomBytes(8).toString("hex")}`;
      const d = await this.gql(
        "comment",
        "mutation($i: CreateCommentInput!) { createComment(input: $i) { id } }",
        { i: { postId: p, text: tag } },
        u.token,
      );
      const id = (d?.createComment as { id: string } | undefined)?.id;
      if (id) this.accepted.comment.push({ id, tag });
    } else if (r < 50) {
      const v = this.pick(this.users);
      if (!v || v.id === u.id) return;
      const d = await this.gql("follow", "mutation($u: ID!) { follow(userId: $u) { id } }", { u: v.id }, u.token);
      if (d) this.accepted.follow.set(`${u.id}:${v.id}`, [u.id, v.id]);
    } else if (r < 85) {
      await this.gql(
        "feed",
        "{ feed(first: 10) { edges { node { id likeCount commentCount author { username } } } } }",
        {},
        u.token,
      );
    } else {
      await this.gql("profile", "query($u: String!) { user(username: $u) { id username } }", { u: u.username });
    }
  }

  start(): void {
    this.running = true;
    // Bounded: each worker stops when `running` drops, and at most 100,000 operations each.
    for (let w = 0; w < WORKERS; w++)
      this.workers.push(
        (async () => {
          for (let i = 0; i < 100_000 && this.running; i++) {
            await this.op();
            await sleep(20);
          }
        })(),
      );
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.workers = [];
  }

  /** p99 (ms) of successful answers per kind between two instants, and counts. */
  window(from: number, to: number) {
    const xs = this.samples.filter((s) => s.at >= from && s.at <= to);
    const by = (k: Kind) => xs.filter((s) => s.kind === k);
    const p99 = Object.fromEntries(
      (["feed", "profile", "post", "like", "comment", "follow", "signup"] as Kind[]).map((k) => [
        k,
        pct(
          by(k)
            .filter((s) => s.ok)
            .map((s) => s.ms),
          99,
        ),
      ]),
    );
    return {
      requests: xs.length,
      errors: xs.filter((s) => !s.ok).length,
      errors_by: xs
        .filter((s) => !s.ok)
        .reduce<Record<string, number>>((a, s) => {
          const k = `${s.kind}:${s.why ?? "?"}`;
          a[k] = (a[k] ?? 0) + 1;
          return a;
        }, {}),
      hung: xs.filter((s) => s.hung).length,
      p99_ms: p99,
    };
  }

  /** Counts of accepted writes (for a per-experiment delta). */
  counts() {
    const a = this.accepted;
    return {
      signup: a.signup.length,
      post: a.post.length,
      comment: a.comment.length,
      like: a.like.size,
      follow: a.follow.size,
    };
  }
}

// ---------------------------------------------------------------- invariants

async function dlqOpen(db: pg.Client): Promise<number> {
  const schemas = (
    await db.query<{ s: string }>("SELECT table_schema AS s FROM information_schema.tables WHERE table_name = 'dlq'")
  ).rows.map((r) => r.s);
  let n = 0;
  for (const s of schemas)
    n += (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${s}".dlq WHERE replayed_at IS NULL`)).rows[0]
      ?.n as number;
  return n;
}

/** Writes accepted and missing, or present more than once (a retried write applied twice). */
async function exactlyOnce(db: pg.Client, load: Load) {
  const a = load.accepted;
  let lost = 0;
  let doubled = 0;
  for (const [table, rows] of [
    ["content.posts", a.post],
    ["content.comments", a.comment],
  ] as const) {
    const found = await db.query<{ text: string; n: number; ids: string[] }>(
      `SELECT text, count(*)::int AS n, array_agg(id::text) AS ids FROM ${table} WHERE text = ANY($1) GROUP BY text`,
      [rows.map((r) => r.tag)],
    );
    const byTag = new Map(found.rows.map((r) => [r.text, r]));
    for (const r of rows) {
      const f = byTag.get(r.tag);
      if (!f?.ids.includes(r.id)) lost++;
      if (f && f.n > 1) doubled += f.n - 1;
    }
  }
  const pairs = async (sql: string, m: Map<string, [string, string]>) => {
    const xs = [...m.values()];
    const r = await db.query<{ n: number }>(sql, [xs.map((x) => x[0]), xs.map((x) => x[1])]);
    return xs.length - (r.rows[0]?.n as number);
  };
  lost += await pairs(
    `SELECT count(*)::int AS n FROM content.post_likes l
       JOIN unnest($1::uuid[], $2::uuid[]) AS x(p, u) ON l.post_id = x.p AND l.user_id = x.u`,
    a.like,
  );
  lost += await pairs(
    `SELECT count(*)::int AS n FROM graph.follows f
       JOIN unnest($1::uuid[], $2::uuid[]) AS x(a, b) ON f.follower_id = x.a AND f.followee_id = x.b`,
    a.follow,
  );
  const users = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM identity.users WHERE id = ANY($1)", [
    a.signup,
  ]);
  lost += a.signup.length - (users.rows[0]?.n as number);
  return { lost, doubled };
}

/** Stored counters that differ from a recount of the rows: exact ones (same transaction) and projections (events). */
async function countMismatches(db: pg.Client, load: Load) {
  const posts = load.posts;
  const users = load.users.map((u) => u.id);
  const one = async (sql: string, arg: string[]) => (await db.query<{ n: number }>(sql, [arg])).rows[0]?.n as number;
  const exact =
    (await one(
      `SELECT count(*)::int AS n FROM content.post_counts c WHERE c.post_id = ANY($1) AND (
         c.like_count <> (SELECT count(*) FROM content.post_likes l WHERE l.post_id = c.post_id) OR
         c.comment_count <> (SELECT count(*) FROM content.comments m WHERE m.post_id = c.post_id AND m.deleted_at IS NULL))`,
      posts,
    )) +
    (await one(
      `SELECT count(*)::int AS n FROM graph.counts c WHERE c.user_id = ANY($1) AND
         c.follower_count <> (SELECT count(*) FROM graph.follows f WHERE f.followee_id = c.user_id)`,
      users,
    ));
  const projected =
    (await one(
      `SELECT count(*)::int AS n FROM identity.users u WHERE u.id = ANY($1) AND
         u.follower_count <> (SELECT count(*) FROM graph.follows f WHERE f.followee_id = u.id)`,
      users,
    )) +
    (await one(
      `SELECT count(*)::int AS n FROM unnest($1::uuid[]) AS x(id)
         LEFT JOIN feed.posts f ON f.post_id = x.id JOIN content.post_counts c ON c.post_id = x.id
        WHERE f.post_id IS NULL OR f.like_count <> c.like_count OR f.comment_count <> c.comment_count`,
      posts,
    ));
  return { exact, projected };
}

// ---------------------------------------------------------------- experiments

interface Env {
  tox: Toxiproxy;
  load: Load;
  db: pg.Client;
  services: Map<string, Service>;
  probe: User;
  /** what an experiment reports beside the common numbers */
  notes: Record<string, number>;
}

interface Experiment {
  name: string;
  /** the read kinds that do not touch the sick edge */
  unaffected: Kind[];
  /** injects the fault; returns how to heal it */
  inject(e: Env): Promise<() => Promise<void>>;
}

const kill9 =
  (name: string, downMs: number): Experiment["inject"] =>
  async (e) => {
    const sv = e.services.get(name) as Service;
    const child = sv.proc?.child;
    child?.kill("SIGKILL");
    await new Promise((r) => (!child || child.exitCode !== null || child.signalCode ? r(null) : child.once("exit", r)));
    await sleep(downMs);
    const t0 = Date.now();
    const restart = startService(sv).then(() => {
      e.notes.restart_to_healthy_s = (Date.now() - t0) / 1000;
    });
    return async () => {
      await restart;
    };
  };

const EXPERIMENTS: Experiment[] = [
  {
    name: "latency gateway→content 500±100 ms",
    unaffected: ["profile"],
    inject: async (e) => {
      await e.tox.toxic("gateway-content", {
        name: "lat",
        type: "latency",
        stream: "downstream",
        attributes: { latency: 500, jitter: 100 },
      });
      return () => e.tox.clear("gateway-content");
    },
  },
  {
    name: "black hole feed→Redis",
    unaffected: ["profile"],
    inject: async (e) => {
      for (const stream of ["upstream", "downstream"])
        await e.tox.toxic("feed-redis", { name: `bh-${stream}`, type: "timeout", stream, attributes: { timeout: 0 } });
      return () => e.tox.clear("feed-redis");
    },
  },
  { name: "kill -9 content, restart", unaffected: ["profile"], inject: kill9("content", 3_000) },
  { name: "kill -9 relay, restart", unaffected: ["feed", "profile"], inject: kill9("relay", 3_000) },
];

/** Seconds from the heal until a probe's post and feed read both succeed (bounded at 120 s). */
async function recover(e: Env, t0: number): Promise<number | null> {
  for (let i = 0; i < 480; i++) {
    const probe = new Load(e.load.url);
    const post = await probe.gql("post", 'mutation { createPost(input: { text: "probe" }) { id } }', {}, e.probe.token);
    const feed = post && (await probe.gql("feed", "{ feed(first: 1) { edges { node { id } } } }", {}, e.probe.token));
    if (feed) return (Date.now() - t0) / 1000;
    await sleep(250);
  }
  return null;
}

/** Waits (bounded) until the event-fed counters match, then checks every invariant. */
async function invariants(e: Env, dlq0: number) {
  const t0 = Date.now();
  let counts = await countMismatches(e.db, e.load);
  for (let i = 0; i < 240 && (counts.projected > 0 || counts.exact > 0); i++) {
    await sleep(500);
    counts = await countMismatches(e.db, e.load);
  }
  const once = await exactlyOnce(e.db, e.load);
  return {
    ...once,
    counts_off_exact: counts.exact,
    counts_off_projected: counts.projected,
    projections_converged_s: counts.projected === 0 ? (Date.now() - t0) / 1000 : null,
    dlq_new: (await dlqOpen(e.db)) - dlq0,
  };
}

async function runExperiment(e: Env, x: Experiment, baseline: ReturnType<Load["window"]>) {
  say(`experiment: ${x.name}`);
  e.notes = {};
  const dlq0 = await dlqOpen(e.db);
  const before = e.load.counts();
  const t0 = Date.now();
  const heal = await x.inject(e);
  await sleep(Math.max(0, FAULT_S * 1000 - (Date.now() - t0)));
  const t1 = Date.now();
  await heal();
  // From the end of the fault window (a restart still starting counts), until a write and a read succeed.
  const recoverS = await recover(e, t1);
  const during = e.load.window(t0, t1);
  // The load pauses for the checks: under a running load the event-fed counters always trail by a few events.
  await e.load.stop();
  const after = e.load.counts();
  const accepted = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
  const inv = await invariants(e, dlq0);
  e.load.start();
  const unaffected = Object.fromEntries(x.unaffected.map((k) => [k, during.p99_ms[k]]));
  const ok =
    inv.lost === 0 &&
    inv.doubled === 0 &&
    inv.counts_off_exact === 0 &&
    inv.counts_off_projected === 0 &&
    inv.dlq_new === 0 &&
    during.hung === 0 &&
    recoverS !== null;
  const r = {
    experiment: x.name,
    ok,
    fault_s: (t1 - t0) / 1000,
    writes_accepted: Object.values(accepted).reduce((a, b) => a + b, 0),
    accepted,
    ...inv,
    requests: during.requests,
    errors: during.errors,
    hung: during.hung,
    p99_ms: during.p99_ms,
    unaffected_p99_ms: unaffected,
    unaffected_p99_vs_baseline: Object.fromEntries(
      x.unaffected.map((k) => [
        k,
        Math.round(((during.p99_ms[k] ?? 0) / Math.max(1, baseline.p99_ms[k] ?? 0)) * 100) / 100,
      ]),
    ),
    time_to_recover_s: recoverS,
    ...e.notes,
  };
  say(`  ${JSON.stringify(r)}`);
  return r;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const s = await ensureServices();
  const tox = await Toxiproxy.start();
  const dir = mkdtempSync(join(tmpdir(), "nova-chaos-"));
  const db = new pg.Client({ connectionString: s.postgres });
  let services: Service[] = [];
  let load: Load | undefined;
  // Interrupted: the children go too (they are not in a process group of their own).
  const killAll = () => {
    for (const x of services) x.proc?.child.kill("SIGKILL");
    tox.child.kill("SIGKILL");
    process.exit(130);
  };
  process.once("SIGINT", killAll).once("SIGTERM", killAll);
  try {
    const topo = await topology(s, tox, dir);
    services = topo.services;
    await db.connect();
    load = new Load(topo.url);
    await Promise.all(services.map(startService));
    say("topology answers");
    const probe = await load.signup();
    if (!probe) throw new Error("the probe user could not sign up");
    for (let i = 0; i < 20; i++) await load.signup();
    for (const u of load.users.slice(0, 10)) await load.post(u);
    load.start();
    const b0 = Date.now();
    await sleep(BASELINE_S * 1000);
    const baseline = load.window(b0, Date.now());
    say(`baseline: ${JSON.stringify(baseline)}`);
    const e: Env = { tox, load, db, services: new Map(services.map((x) => [x.name, x])), probe, notes: {} };
    const results = [];
    for (const x of EXPERIMENTS) results.push(await runExperiment(e, x, baseline));
    await load.stop();
    const report = {
      chaos: quick ? "quick" : "full",
      node: process.version,
      total_seconds: (Date.now() - t00) / 1000,
      workers: WORKERS,
      client_timeout_ms: CLIENT_TIMEOUT_MS,
      baseline,
      experiments: results,
      ok: results.every((r) => r.ok),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await load?.stop();
    await stop(...services.flatMap((x) => (x.proc ? [x.proc] : [])));
    tox.child.kill("SIGTERM");
    await db.end().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exit(await main());
