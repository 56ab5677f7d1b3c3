/**
 * Messaging in the distributed topology: identity, graph, messaging, the
 * relay and the gateway as separate processes (gRPC over HTTP/2 with mTLS,
 * the database through PgBouncer, reads on the streaming replica, events to
 * Kafka). Messaging calls identity and graph as its own module (the mTLS
 * call table allows it), and the relay publishes its outbox with no
 * configuration of its own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { freePort } from "../src/platform/db/embedded.ts";
import { gql, metricValue, type NovaProcess, register, services, spawnNova, subscribe, tempDir } from "./helpers.ts";

let procs: NovaProcess[] = [];
let url: string;
/** A second gateway replica: subscribers here hear what mutations on the first cause (Redis bus). */
let url2: string;
let db: pg.Pool;
/** The second gateway's admin port: its /metrics (never on the API port). */
let gw2Admin: number;

before(async () => {
  const s = await services();
  db = new pg.Pool({ connectionString: s.postgres, max: 2 });
  const tls = join(tempDir(), "tls");
  const certs = spawnNova(["certs", "dev", "--out", tls], {});
  assert.equal((await certs.exited).code, 0, certs.output());
  const migrate = spawnNova(["migrate"], { DATABASE_URL: s.pgbouncer });
  assert.equal((await migrate.exited).code, 0, migrate.output());
  gw2Admin = await freePort();
  const [identityPort, graphPort, messagingPort, gwPort, gw2Port] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const data = {
    DATABASE_URL: s.pgbouncer,
    DATABASE_READ_URL: s.replica,
    KAFKA_BROKERS: s.kafka,
    NOVA_TLS_DIR: tls,
    IDENTITY_ADDR: `https://127.0.0.1:${identityPort}`,
    GRAPH_ADDR: `https://127.0.0.1:${graphPort}`,
    MESSAGING_ADDR: `https://127.0.0.1:${messagingPort}`,
  };
  const serve = async (target: string, env: Record<string, string>) =>
    spawnNova(["serve", `--target=${target}`], { ADMIN_PORT: String(await freePort()), ...env });
  procs = [
    // Identity announces revoked sessions on the bus (moderation's suspensions): Redis across processes.
    await serve("identity", {
      ...data,
      RPC_PORT: String(identityPort),
      JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key"),
      REDIS_URL: s.redis,
    }),
    await serve("graph", { ...data, RPC_PORT: String(graphPort) }),
    await serve("messaging", { ...data, RPC_PORT: String(messagingPort) }),
    await serve("relay", { DATABASE_URL: s.pgbouncer, KAFKA_BROKERS: s.kafka }),
    await serve("realtime", { DATABASE_URL: s.pgbouncer, KAFKA_BROKERS: s.kafka, REDIS_URL: s.redis }),
    ...(await Promise.all(
      [
        [gwPort, await freePort()],
        [gw2Port, gw2Admin],
      ].map(([port, admin]) =>
        serve("gateway", {
          PORT: String(port),
          ADMIN_PORT: String(admin),
          NOVA_TLS_DIR: tls,
          REDIS_URL: s.redis,
          IDENTITY_ADDR: data.IDENTITY_ADDR,
          GRAPH_ADDR: data.GRAPH_ADDR,
          MESSAGING_ADDR: data.MESSAGING_ADDR,
        }),
      ),
    )),
  ];
  // Seven processes start at once on two cores: allow for a slow machine.
  for (const p of procs) await p.waitFor(/"msg":"ready"/, 120_000);
  url = `http://127.0.0.1:${gwPort}/graphql`;
  url2 = `http://127.0.0.1:${gw2Port}/graphql`;
});

after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.kill("SIGKILL");
  await db?.end();
});

/** Retries `fn` until `done` holds of its answer (the replica catching up, the relay publishing), for up to 15 s. */
// biome-ignore lint/suspicious/noExplicitAny: test convenience
async function eventually(fn: () => Promise<any>, done: (r: any) => boolean) {
  let r = await fn();
  for (let i = 0; i < 150 && !done(r); i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await fn();
  }
  return r;
}

test("a conversation across processes: create, idempotent send, unread count, block, and the events reach Kafka", async () => {
  const [a, b] = [await register(url), await register(url)];
  // Identity answers messaging from the replica: a user registered a moment ago shows up within moments.
  const created = await eventually(
    () =>
      gql(url, `mutation($m: [ID!]!) { createConversation(memberIds: $m) { id kind members { id } } }`, {
        token: a.accessToken,
        variables: { m: [b.user.id] },
      }),
    (r) => !r.body.errors,
  );
  assert.equal(created.body.errors, undefined, JSON.stringify(created.body));
  const id = created.body.data.createConversation.id as string;
  assert.equal(created.body.data.createConversation.kind, "DIRECT");
  const SEND = `mutation($c: ID!, $t: String!, $k: String!) { sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { id text } }`;
  const sends = await Promise.all(
    [1, 1, 2].map((n) => gql(url, SEND, { token: a.accessToken, variables: { c: id, t: `hello ${n}`, k: `k${n}` } })),
  );
  for (const r of sends) assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  assert.equal(
    sends[0]?.body.data.sendMessage.id,
    sends[1]?.body.data.sendMessage.id,
    "the resend is the same message",
  );
  // b's view comes from the replica: it catches up to exactly two unread.
  const view = await eventually(
    () =>
      gql(url, `query($id: ID!) { conversation(id: $id) { unreadCount lastMessage { text } } }`, {
        token: b.accessToken,
        variables: { id },
      }),
    (r) => r.body.data?.conversation?.unreadCount === 2,
  );
  assert.deepEqual(view.body.data.conversation, { unreadCount: 2, lastMessage: { text: "hello 2" } });
  const read = await gql(url, `mutation($c: ID!) { markConversationRead(conversationId: $c) { unreadCount } }`, {
    token: b.accessToken,
    variables: { c: id },
  });
  assert.deepEqual(
    read.body.data,
    { markConversationRead: { unreadCount: 0 } },
    "the write's answer is from the primary",
  );
  // A block (graph, another process) stops the next message at once.
  const blocked = await gql(url, `mutation($u: ID!) { block(userId: $u) { id } }`, {
    token: b.accessToken,
    variables: { u: a.user.id },
  });
  assert.equal(blocked.body.errors, undefined, JSON.stringify(blocked.body));
  const refused = await gql(url, SEND, { token: a.accessToken, variables: { c: id, t: "after", k: "k3" } });
  assert.deepEqual(refused.body.errors?.[0]?.extensions, { code: "FORBIDDEN", field: "conversationId" });
  // The relay publishes messaging's outbox to Kafka (topic nova.messaging.conversation).
  const published = await eventually(
    async () =>
      (
        await db.query(
          `SELECT envelope->>'type' AS type, topic, published_at IS NOT NULL AS published
             FROM messaging.outbox WHERE key = $1 ORDER BY seq`,
          [id],
        )
      ).rows,
    (rows) => rows.length === 4 && rows.every((r: { published: boolean }) => r.published),
  );
  assert.deepEqual(
    published.map((r: { type: string; topic: string; published: boolean }) => [r.type, r.topic, r.published]),
    [
      ["ConversationCreated", "nova.messaging.conversation", true],
      ["MessageSent", "nova.messaging.conversation", true],
      ["MessageSent", "nova.messaging.conversation", true],
      ["MessagesRead", "nova.messaging.conversation", true],
    ],
  );
});

test("real time across replicas: a subscriber on one gateway gets what a mutation on the other sent (Kafka -> realtime -> Redis)", async () => {
  const [a, b] = [await register(url), await register(url)];
  const created = await eventually(
    () =>
      gql(url, `mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }`, {
        token: a.accessToken,
        variables: { m: [b.user.id] },
      }),
    (r) => !r.body.errors,
  );
  assert.equal(created.body.errors, undefined, JSON.stringify(created.body));
  const c = created.body.data.createConversation.id as string;
  const metrics2 = `http://127.0.0.1:${gw2Admin}/metrics`;
  const before = await metricValue(metrics2, "nova_realtime_subscriptions");
  const sub = await subscribe<{ messageReceived: { id: string; text: string; sender: { username: string } } }>(
    url2,
    b.accessToken,
    "subscription { messageReceived { id text sender { username } } }",
  );
  try {
    await eventually(
      () => metricValue(metrics2, "nova_realtime_subscriptions"),
      (n) => n > before,
    );
    const sent = await gql(
      url,
      `mutation($c: ID!) { sendMessage(conversationId: $c, text: "across replicas", clientMessageId: "x1") { id } }`,
      { token: a.accessToken, variables: { c } },
    );
    assert.equal(sent.body.errors, undefined, JSON.stringify(sent.body));
    const got = await sub.next(60_000);
    assert.deepEqual(got.messageReceived, {
      id: sent.body.data.sendMessage.id,
      text: "across replicas",
      sender: { username: a.user.username },
    });
  } finally {
    await sub.close();
  }
});
