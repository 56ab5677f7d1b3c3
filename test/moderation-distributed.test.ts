/**
 * Moderation in the distributed topology: identity, graph, content, messaging, moderation, the relay
 * and two gateway replicas as separate processes (gRPC with mTLS, PgBouncer, the replica, Kafka, the
 * Redis bus). Report -> queue -> suspend: both gateways refuse the account's token within 1 s (the
 * bus), identity applies AccountSuspended from Kafka exactly once (sessions revoked, sign-in refused).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { freePort } from "../src/platform/db/embedded.ts";
import { gql, type NovaProcess, register, services, spawnNova, tempDir } from "./helpers.ts";

let procs: NovaProcess[] = [];
let url: string;
let url2: string;
let db: pg.Pool;

before(async () => {
  const s = await services();
  db = new pg.Pool({ connectionString: s.postgres, max: 2 });
  const tls = join(tempDir(), "tls");
  const certs = spawnNova(["certs", "dev", "--out", tls], {});
  assert.equal((await certs.exited).code, 0, certs.output());
  const migrate = spawnNova(["migrate"], { DATABASE_URL: s.pgbouncer });
  assert.equal((await migrate.exited).code, 0, migrate.output());
  const ports = {
    identity: await freePort(),
    graph: await freePort(),
    content: await freePort(),
    messaging: await freePort(),
    moderation: await freePort(),
  };
  const addrs = {
    IDENTITY_ADDR: `https://127.0.0.1:${ports.identity}`,
    GRAPH_ADDR: `https://127.0.0.1:${ports.graph}`,
    CONTENT_ADDR: `https://127.0.0.1:${ports.content}`,
    MESSAGING_ADDR: `https://127.0.0.1:${ports.messaging}`,
    MODERATION_ADDR: `https://127.0.0.1:${ports.moderation}`,
  };
  const data = {
    DATABASE_URL: s.pgbouncer,
    DATABASE_READ_URL: s.replica,
    KAFKA_BROKERS: s.kafka,
    REDIS_URL: s.redis,
    NOVA_TLS_DIR: tls,
    ...addrs,
  };
  const serve = async (target: string, env: Record<string, string>) =>
    spawnNova(["serve", `--target=${target}`], { ADMIN_PORT: String(await freePort()), ...env });
  const [gw1, gw2] = [await freePort(), await freePort()];
  procs = [
    await serve("identity", { ...data, RPC_PORT: String(ports.identity), JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key") }),
    await serve("graph", { ...data, RPC_PORT: String(ports.graph) }),
    await serve("content", { ...data, RPC_PORT: String(ports.content) }),
    await serve("messaging", { ...data, RPC_PORT: String(ports.messaging) }),
    await serve("moderation", { ...data, RPC_PORT: String(ports.moderation) }),
    await serve("relay", { DATABASE_URL: s.pgbouncer, KAFKA_BROKERS: s.kafka }),
    ...(await Promise.all(
      [gw1, gw2].map((port) =>
        serve("gateway", { PORT: String(port), NOVA_TLS_DIR: tls, REDIS_URL: s.redis, ...addrs }),
      ),
    )),
  ];
  // Eight processes start at once on two cores: allow for a slow machine.
  for (const p of procs) await p.waitFor(/"msg":"ready"/, 180_000);
  url = `http://127.0.0.1:${gw1}/graphql`;
  url2 = `http://127.0.0.1:${gw2}/graphql`;
});

after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.kill("SIGKILL");
  await db?.end();
});

/** Retries `fn` until `done` holds of its answer (the replica catching up, Kafka delivering), for up to 30 s. */
// biome-ignore lint/suspicious/noExplicitAny: test convenience
async function eventually(fn: () => Promise<any>, done: (r: any) => boolean) {
  let r = await fn();
  for (let i = 0; i < 300 && !done(r); i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await fn();
  }
  return r;
}

const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`;
type U = Awaited<ReturnType<typeof register>>;
const login = (u: U) =>
  gql(url, LOGIN, { variables: { i: { identifier: u.user.username, password: "correct horse battery" } } });

test("report -> queue -> suspend across processes: Kafka to identity once, both gateways refuse the token, lift", async () => {
  const [author, reporter, mod0] = [await register(url), await register(url), await register(url)];
  await db.query("UPDATE identity.users SET role = 'moderator' WHERE id = $1", [mod0.user.id]);
  const mod = { ...mod0, accessToken: (await login(mod0)).body.data.login.accessToken as string };

  const created = await gql(url, `mutation { createPost(input: {text: "cheap pills"}) { id } }`, {
    token: author.accessToken,
  });
  const postId = created.body.data.createPost.id as string;
  const filed = await eventually(
    () =>
      gql(url, "mutation($i: ReportInput!) { report(input: $i) { report { id } } }", {
        token: reporter.accessToken,
        variables: { i: { subjectKind: "POST", subjectId: postId, category: "SPAM" } },
      }),
    (r) => !r.body.errors,
  );
  assert.equal(filed.body.errors, undefined, JSON.stringify(filed.body.errors));
  // The queue reads the replica: the report shows there within moments, on the other gateway too.
  const queued = await eventually(
    () =>
      gql(url2, "{ moderationQueue(first: 50) { edges { node { subjectId reportCount } } } }", {
        token: mod.accessToken,
      }),
    (r) =>
      (r.body.data?.moderationQueue.edges ?? []).some(
        (e: { node: { subjectId: string } }) => e.node.subjectId === postId,
      ),
  );
  assert.equal(queued.body.errors, undefined, JSON.stringify(queued.body.errors));

  // Both gateways have the author's session cached as active.
  for (const u of [url, url2]) assert.equal((await gql(u, "{ me { id } }", { token: author.accessToken })).status, 200);
  const acted = await gql(url, "mutation($i: ModerationActionInput!) { moderate(input: $i) { id } }", {
    token: mod.accessToken,
    variables: { i: { subjectKind: "POST", subjectId: postId, action: "SUSPEND", reason: "spam", days: 1 } },
  });
  assert.equal(acted.body.errors, undefined, JSON.stringify(acted.body.errors));
  const actionId = acted.body.data.moderate.id as string;
  const started = Date.now();
  const refusedAfter: number[] = await Promise.all(
    [url, url2].map(async (u) => {
      const r = await eventually(
        () => gql(u, "{ me { id } }", { token: author.accessToken }),
        (x) => x.status === 401,
      );
      assert.equal(r.status, 401, `${u} still accepts the suspended token`);
      return Date.now() - started;
    }),
  );
  process.stdout.write(
    `# suspended token refused after ${refusedAfter.join(" ms and ")} ms after the action (the bus)\n`,
  );
  // Within 1 s on every replica (moderation announces the standing on the bus as the action commits),
  // long before the gateways' 5 s session cache would have expired.
  for (const ms of refusedAfter) assert.ok(ms < 1_000, `refused after ${ms} ms`);
  // identity's side comes from Kafka: sign-in refused and every session revoked.
  const refusedLogin = await eventually(
    () => login(author),
    (r) => r.body.errors?.[0]?.extensions?.code === "ACCOUNT_SUSPENDED",
  );
  assert.equal(refusedLogin.body.errors?.[0]?.extensions?.code, "ACCOUNT_SUSPENDED");
  const open = await db.query(
    "SELECT count(*)::int AS n FROM identity.sessions WHERE user_id = $1 AND revoked_at IS NULL",
    [author.user.id],
  );
  assert.equal(open.rows[0].n, 0);

  // Applied once: one processed_events row for the event, one restriction.
  const event = await db.query(
    "SELECT id::text AS id FROM moderation.outbox WHERE envelope->>'type' = 'AccountSuspended' AND envelope->'payload'->>'actionId' = $1",
    [actionId],
  );
  assert.equal(event.rows.length, 1);
  const applied = await db.query(
    "SELECT count(*)::int AS n FROM identity.processed_events WHERE consumer = 'identity.restrictions' AND event_id = $1",
    [event.rows[0].id],
  );
  assert.equal(applied.rows[0].n, 1);
  const audit = await db.query("SELECT decision FROM moderation.audit_log WHERE action_id = $1", [actionId]);
  assert.deepEqual(audit.rows, [{ decision: "suspend" }]);
  // Hidden on the other gateway too.
  const hidden = await gql(url2, "query($id: ID!) { post(id: $id) { id } }", {
    token: reporter.accessToken,
    variables: { id: postId },
  });
  assert.equal(hidden.body.data.post, null);

  const lift = await gql(url2, "mutation($i: ModerationActionInput!) { moderate(input: $i) { id } }", {
    token: mod.accessToken,
    variables: { i: { subjectKind: "ACCOUNT", subjectId: author.user.id, action: "LIFT" } },
  });
  assert.equal(lift.body.errors, undefined, JSON.stringify(lift.body.errors));
  const back = await eventually(
    () => login(author),
    (r) => r.body.data?.login != null,
  );
  assert.ok(back.body.data?.login?.accessToken, JSON.stringify(back.body.errors));
});
