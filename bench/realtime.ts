/**
 * Real-time delivery: message send-to-receive latency over GraphQL
 * subscriptions with 1,000 open subscriptions (250 users online with 4
 * sessions each, real graphql-ws WebSocket clients), while 10 senders send
 * `rate` messages/s through the gateway (open model: sends start on a fixed
 * schedule whatever the answers do). Latency is taken per delivery: from the
 * moment the sendMessage request starts to the moment a subscriber's socket
 * yields the message. Side by side in one run:
 * - embedded: `nova start` (one process, the in-process bus, the Postgres log);
 * - distributed: every service the gateway calls in its own process, the
 *   relay, the realtime module, and TWO gateways, with Kafka and the Redis
 *   bus; half of each user's sessions on each gateway, the sends through the
 *   first.
 * The load generator (1,000 sockets and the senders) shares the 2 cores.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { metricSamples } from "../scripts/lib/metrics.ts";
import { ensureServices, overPrimarySocket } from "../scripts/services.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { modules } from "../src/runtime/modules.ts";
import {
  type cpuMeter,
  cpuPerUnit,
  gql,
  metric,
  need,
  nova,
  type Proc,
  pct,
  processMeter,
  s3Env,
  scratchDatabase,
  stop,
  waitHttp,
} from "./lib.ts";

const root = new URL("..", import.meta.url).pathname;
const say = (m: string) => process.stderr.write(`realtime: ${m}\n`);
const RECEIVERS = 250;
const SESSIONS = 4;
const SENDERS = 10;
/** The target: p99 send-to-receive within this at the top rate. */
const TARGET_P99_MS = 100;
const SEND = `mutation($c: ID!, $t: String!, $k: String!) { sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { id } }`;
/** Every gateway budget off: the bench measures delivery, not the rate limits. */
const OPEN = {
  GATEWAY_RATE_USER_QUERIES: "0",
  GATEWAY_RATE_USER_MUTATIONS: "0",
  GATEWAY_RATE_IP_QUERIES: "0",
  GATEWAY_RATE_IP_MUTATIONS: "0",
  GATEWAY_MAX_EVENT_LOOP_DELAY_MS: "0",
  LOG_LEVEL: "error",
};

interface World {
  senders: { token: string; conversations: string[] }[];
  receivers: { token: string }[];
}

async function register(url: string, name: string): Promise<{ id: string; token: string }> {
  const r = await gql(url, "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }", {
    i: { email: `${name}@example.com`, username: name, password: "correct horse battery" },
  });
  const v = need<{ accessToken: string; user: { id: string } }>(r, "register");
  return { id: v.user.id, token: v.accessToken };
}

/** 250 receivers and 10 senders; each sender has a conversation with 25 receivers. */
async function world(url: string): Promise<World> {
  const tag = randomBytes(3).toString("hex");
  const receivers: { id: string; token: string }[] = [];
  for (let i = 0; i < RECEIVERS; i += 25) {
    receivers.push(...(await Promise.all(Array.from({ length: 25 }, (_, j) => register(url, `rt${tag}r${i + j}`)))));
  }
  const senders: World["senders"] = [];
  for (let s = 0; s < SENDERS; s++) {
    const me = await register(url, `rt${tag}s${s}`);
    const mine = receivers.filter((_, i) => i % SENDERS === s);
    const conversations = await Promise.all(
      mine.map(async (r) => {
        const c = await gql(
          url,
          "mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }",
          { m: [r.id] },
          me.token,
        );
        return need<{ id: string }>(c, "createConversation").id;
      }),
    );
    senders.push({ token: me.token, conversations });
  }
  return { senders, receivers };
}

/** RPCs served, by service/method, summed over every process's /metrics. */
async function rpcCounts(urls: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const url of urls) {
    for (const { labels, value } of await metricSamples(url, "nova_rpc_server_handled_total")) {
      const k = `${labels.service}/${labels.method}`;
      out.set(k, (out.get(k) ?? 0) + value);
    }
  }
  return out;
}

async function measure(
  label: string,
  sendUrl: string,
  subscribeUrls: string[],
  metricsUrls: string[],
  /** Every process's /metrics (the RPCs served per message). */
  rpcUrls: string[],
  w: World,
  rates: number[],
  seconds: number,
  meter: ReturnType<typeof cpuMeter>,
) {
  const latencies: number[] = [];
  const clients: Client[] = [];
  const before = (await Promise.all(metricsUrls.map((m) => metric(m, "nova_realtime_subscriptions")))).reduce(
    (a, b) => a + b,
    0,
  );
  const liveNow = async () =>
    (await Promise.all(metricsUrls.map((m) => metric(m, "nova_realtime_subscriptions")))).reduce((a, b) => a + b, 0);
  let live = before;
  // Connect in waves of 100 sockets, each wave live before the next (a storm of 1,000 handshakes on
  // two cores measures the handshakes, not delivery).
  for (const [i, r] of w.receivers.entries()) {
    for (let k = 0; k < SESSIONS; k++) {
      const url = subscribeUrls[(i + k) % subscribeUrls.length] as string;
      const client = createClient({
        url: url.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => undefined,
        connectionParams: { authorization: `Bearer ${r.token}` },
      });
      client.subscribe<{ messageReceived: { text: string } }>(
        { query: "subscription { messageReceived { id text } }" },
        {
          next: (v) => {
            const t = Number(v.data?.messageReceived.text.slice(2));
            if (t > 0) latencies.push(performance.timeOrigin + performance.now() - t);
          },
          error: () => undefined,
          complete: () => undefined,
        },
      );
      clients.push(client);
    }
    if (clients.length % 100 === 0 || i === w.receivers.length - 1) {
      const want = before + clients.length;
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        live = await liveNow();
        if (live >= want) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  say(`${label}: ${live - before} subscriptions live`);
  const out: Record<string, number | null | Record<string, number>>[] = [];
  let n = 0;
  for (const rate of rates) {
    latencies.length = 0;
    let errors = 0;
    let firstError = "";
    let sent = 0;
    let inflight = 0;
    const sendLat: number[] = [];
    const total = rate * seconds;
    const queries = async () =>
      (await Promise.all(metricsUrls.map((m) => metric(m, "nova_db_queries_total")))).reduce((a, b) => a + b, 0);
    const q0 = await queries();
    const r0 = await rpcCounts(rpcUrls);
    const cpu = meter.start();
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
        while (sent < due) {
          sent++;
          if (inflight >= 1_000) {
            errors++;
            continue;
          }
          const s = w.senders[n % SENDERS] as World["senders"][number];
          const c = s.conversations[Math.floor(n / SENDERS) % s.conversations.length] as string;
          n++;
          inflight++;
          const start = performance.timeOrigin + performance.now();
          gql(sendUrl, SEND, { c, t: `t=${start}`, k: `b${n}-${randomBytes(4).toString("hex")}` }, s.token)
            .then((r) => {
              if (r.body.errors) {
                errors++;
                firstError ||= JSON.stringify(r.body.errors).slice(0, 300);
              }
              sendLat.push(performance.timeOrigin + performance.now() - start);
            })
            .catch((err) => {
              errors++;
              firstError ||= String(err);
            })
            .finally(() => {
              inflight--;
            });
        }
        if (sent >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    const expected = (total - errors) * SESSIONS;
    const drainEnd = Date.now() + 20_000;
    while ((inflight > 0 || latencies.length < expected) && Date.now() < drainEnd) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // Where the machine's CPU went, per message sent (the drain included: it is the same messages' work).
    const used = cpu();
    const wall = performance.now() - t0;
    const cpuAll = Object.values(used).reduce((a, b) => a + b, 0);
    const cpuPerMessage = cpuPerUnit(used, total, 2);
    // Every statement the message caused (send, relay, consumers): meaningful where one process does it all.
    const r1 = await rpcCounts(rpcUrls);
    const rpcPerMessage = Object.fromEntries(
      [...r1]
        .map(([k, v]) => [k, Math.round((100 * (v - (r0.get(k) ?? 0))) / total) / 100] as const)
        .filter(([, v]) => v >= 0.01),
    );
    const perMessage = metricsUrls.length === 1 ? Math.round((10 * ((await queries()) - q0)) / total) / 10 : null;
    const row = {
      rate,
      sent: total,
      send_errors: errors,
      send_p50_ms: pct(sendLat, 50),
      send_p99_ms: pct(sendLat, 99),
      deliveries: latencies.length,
      expected_deliveries: expected,
      p50_ms: pct(latencies, 50),
      p95_ms: pct(latencies, 95),
      p99_ms: pct(latencies, 99),
      db_queries_per_message: perMessage,
      rpc_calls_per_message: rpcPerMessage,
      // CPU ms per message by process group, and the cores busy on average while it ran.
      cpu_ms_per_message: cpuPerMessage,
      cores_busy: Math.round((100 * cpuAll) / wall) / 100,
    };
    say(
      `${label} @ ${rate} msg/s: delivered ${row.deliveries}/${expected}, p50 ${row.p50_ms} p95 ${row.p95_ms} p99 ${row.p99_ms} ms (send p99 ${row.send_p99_ms} ms, ${errors} errors, ${perMessage ?? "-"} SQL/message; CPU ms/message ${JSON.stringify(cpuPerMessage)}, ${row.cores_busy} cores busy)`,
    );
    if (firstError) say(`${label} @ ${rate} msg/s: first error ${firstError}`);
    out.push(row);
  }
  await Promise.all(clients.map((c) => c.dispose()));
  return out;
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const s = await ensureServices();
  // BENCH_RATES="50,100" and BENCH_MODES="embedded" narrow a run (e.g. to profile one mode).
  const rates = process.env.BENCH_RATES ? process.env.BENCH_RATES.split(",").map(Number) : [20, 50, 100, 200, 500];
  const modes = (process.env.BENCH_MODES ?? "embedded,distributed").split(",");
  const seconds = quick ? 6 : 20;
  const procs: Proc[] = [];
  const result: Record<string, unknown> = { subscriptions: RECEIVERS * SESSIONS, seconds_per_rate: seconds };
  const meter = processMeter(() => ({ nova: procs.map((p) => p.child.pid) }));
  try {
    // Embedded: one process, on its own scratch database.
    if (modes.includes("embedded")) {
      const scratch = await scratchDatabase(s.postgres, { poolMax: 1, applicationName: "bench-realtime" });
      try {
        const port = await freePort();
        const adminPort = await freePort();
        const p = nova(["start"], {
          ...OPEN,
          // Over the Unix socket, as `nova start` reaches its own PostgreSQL.
          DATABASE_URL: overPrimarySocket(scratch.url(s.postgres)),
          PORT: String(port),
          ADMIN_PORT: String(adminPort),
          NOVA_DATA_DIR: join(root, ".nova-bench", "realtime"),
        });
        procs.push(p);
        const base = `http://127.0.0.1:${port}`;
        await waitHttp(`${base}/healthz`, p, 120_000);
        const w = await world(`${base}/graphql`);
        const rows = await measure(
          "embedded",
          `${base}/graphql`,
          [`${base}/graphql`],
          [`http://127.0.0.1:${adminPort}/metrics`],
          [`http://127.0.0.1:${adminPort}/metrics`],
          w,
          rates,
          seconds,
          meter,
        );
        result.embedded = rows;
        await stop(p);
      } finally {
        await scratch.drop();
      }
    }
    // Distributed: five processes, Kafka and the Redis bus, two gateways.
    if (modes.includes("distributed")) {
      const scratch = await scratchDatabase(s.postgres, { poolMax: 1, applicationName: "bench-realtime" });
      try {
        const tls = join(root, ".nova-bench", "tls");
        const certs = nova(["certs", "dev", "--out", tls], {});
        await new Promise((r) => certs.child.once("exit", r));
        const migrate = nova(["migrate"], { DATABASE_URL: scratch.url(s.postgres) });
        await new Promise((r) => migrate.child.once("exit", r));
        // Every service the gateway calls in its own process, as production runs them.
        const backends: string[] = [...modules.gateway.deps];
        const ports = Object.fromEntries(await Promise.all(backends.map(async (m) => [m, await freePort()] as const)));
        const common = {
          ...OPEN,
          // The harness's PgBouncer names only its own database, so the writer is reached directly here.
          DATABASE_URL: scratch.url(s.postgres),
          DATABASE_READ_URL: scratch.url(s.replica),
          KAFKA_BROKERS: s.kafka,
          REDIS_URL: s.redis,
          NOVA_TLS_DIR: tls,
          ...s3Env(s),
          ...Object.fromEntries(backends.map((m) => [`${m.toUpperCase()}_ADDR`, `https://127.0.0.1:${ports[m]}`])),
        };
        const serve = async (target: string, env: Record<string, string> = {}) => {
          const admin = await freePort();
          const p = nova(["serve", `--target=${target}`], { ...common, ADMIN_PORT: String(admin), ...env });
          procs.push(p);
          return { p, admin };
        };
        const started = [];
        for (const m of backends) {
          started.push(
            await serve(m, {
              RPC_PORT: String(ports[m]),
              ...(m === "identity" ? { JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key") } : {}),
            }),
          );
        }
        started.push(await serve("relay"), await serve("realtime"));
        for (const x of started) await waitHttp(`http://127.0.0.1:${x.admin}/healthz`, x.p, 120_000);
        const gws: string[] = [];
        const gwAdmins: string[] = [];
        for (let i = 0; i < 2; i++) {
          const port = await freePort();
          const x = await serve("gateway", { PORT: String(port) });
          await waitHttp(`http://127.0.0.1:${port}/healthz`, x.p, 120_000);
          gws.push(`http://127.0.0.1:${port}`);
          gwAdmins.push(`http://127.0.0.1:${x.admin}`);
        }
        const w = await world(`${gws[0]}/graphql`);
        const rows = await measure(
          "distributed",
          `${gws[0]}/graphql`,
          gws.map((g) => `${g}/graphql`),
          gwAdmins.map((g) => `${g}/metrics`),
          started.map((x) => `http://127.0.0.1:${x.admin}/metrics`),
          w,
          rates,
          seconds,
          meter,
        );
        result.distributed = rows;
      } finally {
        await stop(...procs);
        await scratch.drop();
      }
    }
  } finally {
    await stop(...procs);
  }
  const at = (mode: string, rate: number) =>
    ((result[mode] as Record<string, number>[] | undefined) ?? []).find((r) => r.rate === rate) ?? {};
  const top = Math.max(...rates);
  // The highest rate tried that met the target: every send accepted, every delivery made, p99 <= 100 ms.
  const withinTarget = (mode: string) =>
    Math.max(
      0,
      ...((result[mode] as Record<string, number>[] | undefined) ?? [])
        .filter(
          (r) =>
            r.send_errors === 0 && r.deliveries === r.expected_deliveries && (r.p99_ms ?? Infinity) <= TARGET_P99_MS,
        )
        .map((r) => r.rate ?? 0),
    );
  return {
    embedded_p50_ms: at("embedded", top).p50_ms,
    embedded_p99_ms: at("embedded", top).p99_ms,
    distributed_p50_ms: at("distributed", top).p50_ms,
    distributed_p99_ms: at("distributed", top).p99_ms,
    rate_msgs_per_s: top,
    embedded_max_rate_within_target: withinTarget("embedded"),
    distributed_max_rate_within_target: withinTarget("distributed"),
    ...result,
  };
}
