/**
 * The distributed topology, started here: `nova serve --target=identity` and
 * `nova serve --target=gateway` as separate processes talking gRPC over
 * HTTP/2 with mTLS, the database reached through PgBouncer, reads on the
 * streaming replica.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { Health, HealthCheckResponse_ServingStatus } from "../src/gen/grpc/health/v1/health_pb.ts";
import { ContentService } from "../src/gen/nova/content/v1/content_pb.ts";
import { IdentityService } from "../src/gen/nova/identity/v1/identity_pb.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { generateDevCerts, loadTls } from "../src/platform/rpc/tls.ts";
import { gql, metricValue, type NovaProcess, register, services, spawnNova, tempDir, unique } from "./helpers.ts";
import { tokenIn, waitForMail } from "./mailpit.ts";

let identity: NovaProcess;
let graph: NovaProcess;
let content: NovaProcess;
let content2: NovaProcess;
let contentPort: number;
let contentPort2: number;
let relay: NovaProcess;
let gateway: NovaProcess;
let postgresUrl: string;
let url: string;
let rpcPort: number;
let identityAdmin: number;
let tls: string;
let replicaUrl: string;
let pgbouncerUrl: string;
let mailpit: string;

before(async () => {
  const s = await services();
  replicaUrl = s.replica;
  pgbouncerUrl = s.pgbouncer;
  const dir = tempDir();
  tls = join(dir, "tls");
  const certs = spawnNova(["certs", "dev", "--out", tls], {});
  assert.equal((await certs.exited).code, 0, certs.output());
  const migrate = spawnNova(["migrate"], { DATABASE_URL: s.pgbouncer });
  assert.equal((await migrate.exited).code, 0, migrate.output());

  postgresUrl = s.postgres;
  mailpit = s.mailpit;
  [rpcPort, identityAdmin] = [await freePort(), await freePort()];
  const graphPort = await freePort();
  [contentPort, contentPort2] = [await freePort(), await freePort()];
  const data = {
    DATABASE_URL: s.pgbouncer,
    DATABASE_READ_URL: s.replica,
    KAFKA_BROKERS: s.kafka,
    REDIS_URL: s.redis,
    NOVA_TLS_DIR: tls,
    IDENTITY_ADDR: `https://127.0.0.1:${rpcPort}`,
    GRAPH_ADDR: `https://127.0.0.1:${graphPort}`,
    CONTENT_ADDR: `https://127.0.0.1:${contentPort}`,
  };
  identity = spawnNova(["serve", "--target=identity"], {
    ...data,
    RPC_PORT: String(rpcPort),
    ADMIN_PORT: String(identityAdmin),
    JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key"),
    // identity's mail consumer reads nova.identity.account from Kafka and sends to the harness's Mailpit.
    SMTP_URL: s.smtp,
  });
  graph = spawnNova(["serve", "--target=graph"], {
    ...data,
    RPC_PORT: String(graphPort),
    ADMIN_PORT: String(await freePort()),
  });
  content = spawnNova(["serve", "--target=content"], {
    ...data,
    RPC_PORT: String(contentPort),
    ADMIN_PORT: String(await freePort()),
  });
  // A second replica of content: both share Redis (L2 and invalidations).
  content2 = spawnNova(["serve", "--target=content"], {
    ...data,
    RPC_PORT: String(contentPort2),
    ADMIN_PORT: String(await freePort()),
  });
  // The relay needs no RPC port and no certificate: it only reads outboxes and publishes to Kafka.
  relay = spawnNova(["serve", "--target=relay"], {
    DATABASE_URL: s.pgbouncer,
    KAFKA_BROKERS: s.kafka,
    ADMIN_PORT: String(await freePort()),
  });
  const gwPort = await freePort();
  gateway = spawnNova(["serve", "--target=gateway"], {
    PORT: String(gwPort),
    ADMIN_PORT: String(await freePort()),
    IDENTITY_ADDR: data.IDENTITY_ADDR,
    GRAPH_ADDR: data.GRAPH_ADDR,
    CONTENT_ADDR: data.CONTENT_ADDR,
    NOVA_TLS_DIR: tls,
    // The real-time bus of GraphQL subscriptions crosses processes: distributed mode requires Redis.
    REDIS_URL: s.redis,
  });
  // Six processes start at once on two cores: allow for a slow machine.
  for (const p of [identity, graph, content, content2, relay, gateway]) await p.waitFor(/"msg":"ready"/, 120_000);
  url = `http://127.0.0.1:${gwPort}/graphql`;
});

after(async () => {
  for (const p of [gateway, identity, graph, content, content2, relay])
    if (p && p.child.exitCode === null) p.kill("SIGKILL");
});

describe("identity flows across processes", () => {
  test("register, me, login, refresh and logout through the gateway over mTLS gRPC", async () => {
    const reg = await register(url);
    const me = await gql(url, "{ me { id username } }", { token: reg.accessToken });
    assert.equal(me.body.data.me.id, reg.user.id);
    const login = await gql(
      url,
      `mutation { login(input: {identifier: "${reg.user.username}", password: "correct horse battery"}) { refreshToken } }`,
    );
    const rt = login.body.data.login.refreshToken;
    const r = await gql(url, "mutation($t: String!) { refreshToken(token: $t) { accessToken } }", {
      variables: { t: rt },
    });
    assert.match(r.body.data.refreshToken.accessToken, /^ey/);
    const bad = await gql(
      url,
      `mutation { register(input: {email: "x", username: "ok_name", password: "correct horse battery"}) { accessToken } }`,
    );
    assert.equal(bad.body.errors[0].extensions.code, "BAD_USER_INPUT", "coded errors cross the process boundary");
    assert.equal(bad.body.errors[0].extensions.field, "email");
    assert.equal((await gql(url, "mutation { logout }", { token: reg.accessToken })).body.data.logout, true);
    assert.equal((await gql(url, "{ me { id } }", { token: reg.accessToken })).status, 401);
  });

  test("public reads are served by the streaming replica", async () => {
    const reg = await register(url, unique("rep"));
    const metrics = `http://127.0.0.1:${identityAdmin}/metrics`;
    const before = await metricValue(metrics, "nova_db_queries_total", { pool: "reader" });
    // Replication is asynchronous: the replica sees the new user within moments.
    let found = null;
    for (let i = 0; i < 50 && !found; i++) {
      found = (await gql(url, `{ user(username: "${reg.user.username}") { id } }`)).body.data.user;
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(found?.id, reg.user.id);
    const afterCount = await metricValue(metrics, "nova_db_queries_total", { pool: "reader" });
    assert.ok(afterCount > before, `reader pool used (${before} -> ${afterCount})`);
    const replica = new pg.Client({ connectionString: replicaUrl });
    await replica.connect();
    try {
      const rec = await replica.query("select pg_is_in_recovery() as r");
      assert.equal(rec.rows[0].r, true, "the reader is a standby");
      const conns = await replica.query(
        "select count(*)::int as n from pg_stat_activity where application_name = 'nova-identity-reader'",
      );
      assert.ok(conns.rows[0].n >= 1, "identity holds reader connections on the standby");
    } finally {
      await replica.end();
    }
  });

  test("timeouts are database defaults, so they hold through PgBouncer transaction pooling", async () => {
    const c = new pg.Client({ connectionString: pgbouncerUrl });
    await c.connect();
    try {
      assert.equal((await c.query("show statement_timeout")).rows[0].statement_timeout, "30s");
      assert.equal((await c.query("show lock_timeout")).rows[0].lock_timeout, "10s");
    } finally {
      await c.end();
    }
  });
});

describe("events across processes (Kafka)", () => {
  test("a follow in the graph process reaches identity's profile counts through the relay and Kafka", async () => {
    const [a, b] = [await register(url), await register(url)];
    const f = await gql(url, "mutation($id: ID!) { follow(userId: $id) { id followerCount } }", {
      token: a.accessToken,
      variables: { id: b.user.id },
    });
    assert.equal(f.body.errors, undefined, JSON.stringify(f.body));
    assert.equal(f.body.data.follow.followerCount, 1, "the graph's own count is exact at once");
    const db = new pg.Client({ connectionString: postgresUrl });
    await db.connect();
    try {
      const counts = async () =>
        (await db.query("SELECT follower_count FROM identity.users WHERE id = $1", [b.user.id])).rows[0]
          ?.follower_count;
      const end = Date.now() + 30_000;
      while (Date.now() < end && (await counts()) !== 1) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await counts(), 1, "identity's consumer applied the Followed event");
      await gql(url, "mutation($id: ID!) { unfollow(userId: $id) { id } }", {
        token: a.accessToken,
        variables: { id: b.user.id },
      });
      const end2 = Date.now() + 30_000;
      while (Date.now() < end2 && (await counts()) !== 0) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await counts(), 0, "and the Unfollowed event");
    } finally {
      await db.end();
    }
  });

  test("a password reset is mailed by identity's consumer over Kafka, and its link works once", async () => {
    const u = await register(url);
    const email = `${u.user.username}@example.com`;
    const asked = await gql(url, "mutation($e: String!) { requestPasswordReset(email: $e) }", {
      variables: { e: email },
    });
    assert.deepEqual(asked.body, { data: { requestPasswordReset: true } });
    const [mail] = await waitForMail(mailpit, email, { subject: /^Reset your Nova password/, timeoutMs: 30_000 });
    const reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    const token = tokenIn(mail as never);
    const done = await gql(url, reset, { variables: { t: token, p: "a brand new passphrase" } });
    assert.deepEqual(done.body, { data: { resetPassword: true } });
    const again = await gql(url, reset, { variables: { t: token, p: "another new passphrase" } });
    assert.equal(again.body.errors?.[0]?.extensions?.field, "token");
    await waitForMail(mailpit, email, { subject: /^Your Nova password was changed/, timeoutMs: 30_000 });
  });

  test("posts written in the content process are read back through the gateway with author and counts", async () => {
    const a = await register(url);
    const p = await gql(
      url,
      `mutation { createPost(input: { text: "hello #nova from @${a.user.username}" }) { id hashtags author { username } likeCount } }`,
      { token: a.accessToken },
    );
    assert.equal(p.body.errors, undefined, JSON.stringify(p.body));
    assert.deepEqual(p.body.data.createPost.hashtags, ["nova"]);
    const liked = await gql(url, "mutation($id: ID!) { likePost(postId: $id) { likeCount viewerHasLiked } }", {
      token: a.accessToken,
      variables: { id: p.body.data.createPost.id },
    });
    assert.deepEqual(liked.body.data.likePost, { likeCount: 1, viewerHasLiked: true });
  });
});

describe("cache across content replicas (Redis)", () => {
  test("an edit through one content process drops the other's cached copy within 100 ms", async () => {
    const a = await register(url);
    const created = await gql(url, `mutation { createPost(input: { text: "v1" }) { id } }`, { token: a.accessToken });
    const postId = created.body.data.createPost.id as string;
    const t = loadTls({ ca: join(tls, "ca.crt"), cert: join(tls, "gateway.crt"), key: join(tls, "gateway.key") });
    const client = (port: number) =>
      createClient(
        ContentService,
        createGrpcTransport({
          baseUrl: `https://127.0.0.1:${port}`,
          nodeOptions: { ca: t.ca, cert: t.cert, key: t.key },
          interceptors: [
            (next) => async (req) => {
              req.header.set("x-nova-caller", "gateway");
              req.header.set("x-nova-user-id", a.user.id);
              req.header.set("x-nova-session-id", "s");
              return next(req);
            },
          ],
        }),
      );
    const [one, two] = [client(contentPort), client(contentPort2)];
    assert.equal((await two.getPost({ postId })).post?.text, "v1");
    assert.equal((await two.getPost({ postId })).post?.text, "v1", "now in the second replica's cache");
    await one.editPost({ postId, text: "v2" });
    const t0 = performance.now();
    let text = "v1";
    while (text !== "v2" && performance.now() - t0 < 2_000) text = (await two.getPost({ postId })).post?.text ?? "";
    const ms = performance.now() - t0;
    assert.equal(text, "v2");
    assert.ok(ms <= 100, `the second replica served the edit after ${ms.toFixed(1)} ms`);
  });
});

describe("blocks across content replicas", () => {
  test("a block is honoured at once for writes by the replica that had cached 'no block', and hides reads within 1 s", async () => {
    const [a, b] = [await register(url), await register(url)];
    const created = await gql(url, `mutation { createPost(input: { text: "a's" }) { id } }`, { token: a.accessToken });
    const postId = created.body.data.createPost.id as string;
    const t = loadTls({ ca: join(tls, "ca.crt"), cert: join(tls, "gateway.crt"), key: join(tls, "gateway.key") });
    const asB = (port: number) =>
      createClient(
        ContentService,
        createGrpcTransport({
          baseUrl: `https://127.0.0.1:${port}`,
          nodeOptions: { ca: t.ca, cert: t.cert, key: t.key },
          interceptors: [
            (next) => async (req) => {
              req.header.set("x-nova-caller", "gateway");
              req.header.set("x-nova-user-id", b.user.id);
              req.header.set("x-nova-session-id", "s");
              return next(req);
            },
          ],
        }),
      );
    const [one, two] = [asB(contentPort), asB(contentPort2)];
    // Both replicas now hold "no block between a and b".
    for (const c of [one, two]) assert.equal((await c.getPost({ postId })).post?.id, postId);
    const blocked = await gql(url, `mutation($id: ID!) { block(userId: $id) { id } }`, {
      token: a.accessToken,
      variables: { id: b.user.id },
    });
    assert.equal(blocked.body.errors, undefined, JSON.stringify(blocked.body));
    const notFound = (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound;
    for (const c of [two, one]) {
      await assert.rejects(c.likePost({ postId }), notFound, "like right after the block");
      await assert.rejects(c.createComment({ postId, text: "x" }), notFound, "comment right after the block");
    }
    const t0 = performance.now();
    let shown = true;
    while (shown && performance.now() - t0 < 3_000) {
      shown = await two.getPost({ postId }).then(
        () => true,
        (e) => !notFound(e),
      );
    }
    const ms = performance.now() - t0;
    assert.equal(shown, false);
    assert.ok(ms <= 1_000, `the other replica still showed the post ${ms.toFixed(0)} ms after the block`);
  });
});

describe("mTLS", () => {
  const call = (nodeOptions: Record<string, unknown>) =>
    createClient(
      IdentityService,
      createGrpcTransport({ baseUrl: `https://127.0.0.1:${rpcPort}`, nodeOptions }),
    ).getJwks({}, { timeoutMs: 3_000 });

  test("the gateway's certificate may call identity", async () => {
    const t = loadTls({ ca: join(tls, "ca.crt"), cert: join(tls, "gateway.crt"), key: join(tls, "gateway.key") });
    const res = await call({ ca: t.ca, cert: t.cert, key: t.key });
    assert.match(res.jwksJson, /Ed25519/);
  });

  test("a client without a certificate is refused", async () => {
    const t = loadTls({ ca: join(tls, "ca.crt"), cert: join(tls, "gateway.crt"), key: join(tls, "gateway.key") });
    await assert.rejects(call({ ca: t.ca }), (err) => {
      assert.ok(err instanceof ConnectError);
      assert.notEqual(err.code, Code.PermissionDenied);
      return true;
    });
  });

  test("a certificate from another CA is refused", async () => {
    const rogue = join(tempDir(), "rogue");
    generateDevCerts(rogue, { gateway: ["gateway"] });
    const r = loadTls({ ca: join(tls, "ca.crt"), cert: join(rogue, "gateway.crt"), key: join(rogue, "gateway.key") });
    await assert.rejects(call({ ca: r.ca, cert: r.cert, key: r.key }), ConnectError);
  });

  test("a valid certificate of a module that may not call identity is refused", async () => {
    const t = loadTls({ ca: join(tls, "ca.crt"), cert: join(tls, "identity.crt"), key: join(tls, "identity.key") });
    await assert.rejects(call({ ca: t.ca, cert: t.cert, key: t.key }), (err) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.PermissionDenied);
      return true;
    });
  });

  test("grpc.health.v1 answers on the plaintext admin port for probes", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${identityAdmin}` }));
    const res = await health.check({ service: "nova.identity.v1.IdentityService" });
    assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
    const overall = await health.check({ service: "" });
    assert.equal(overall.status, HealthCheckResponse_ServingStatus.SERVING);
    await assert.rejects(
      health.check({ service: "nope" }),
      (e) => e instanceof ConnectError && e.code === Code.NotFound,
    );
  });
});

describe("shutdown", () => {
  test("SIGTERM stops every process cleanly with exit code 0", async () => {
    const all = [gateway, identity, graph, content, content2, relay];
    for (const p of all) p.kill("SIGTERM");
    const exits = await Promise.all(all.map((p) => p.exited));
    for (const [i, e] of exits.entries()) {
      assert.deepEqual(e, { code: 0, signal: null }, (all[i] as NovaProcess).output().slice(-2000));
    }
  });
});
