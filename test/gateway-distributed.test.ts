/**
 * Two gateway processes (`nova serve --target=gateway`) in front of one
 * identity process, sharing the harness's real Redis: rate limits and
 * Idempotency-Keys hold across replicas.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freePort } from "../src/platform/db/embedded.ts";
import { type NovaProcess, services, spawnNova, tempDir, unique } from "./helpers.ts";

let identity: NovaProcess;
let gateways: NovaProcess[] = [];
let urls: string[] = [];

before(async () => {
  const s = await services();
  const tls = join(tempDir(), "tls");
  const certs = spawnNova(["certs", "dev", "--out", tls], {});
  assert.equal((await certs.exited).code, 0, certs.output());
  const migrate = spawnNova(["migrate"], { DATABASE_URL: s.pgbouncer });
  assert.equal((await migrate.exited).code, 0, migrate.output());
  const rpcPort = await freePort();
  identity = spawnNova(["serve", "--target=identity"], {
    DATABASE_URL: s.pgbouncer,
    NOVA_TLS_DIR: tls,
    RPC_PORT: String(rpcPort),
    ADMIN_PORT: String(await freePort()),
    JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key"),
    // Revoked sessions are announced on the bus: Redis across processes.
    REDIS_URL: s.redis,
  });
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    gateways.push(
      spawnNova(["serve", "--target=gateway"], {
        PORT: String(port),
        ADMIN_PORT: String(await freePort()),
        IDENTITY_ADDR: `https://127.0.0.1:${rpcPort}`,
        NOVA_TLS_DIR: tls,
        REDIS_URL: s.redis,
        // The client's address comes from X-Forwarded-For, so each run has its own budget in the shared Redis.
        GATEWAY_TRUST_PROXY: "true",
        GATEWAY_RATE_IP_QUERIES: "6",
        GATEWAY_RATE_IP_MUTATIONS: "100",
      }),
    );
    urls.push(`http://127.0.0.1:${port}/graphql`);
  }
  for (const p of [identity, ...gateways]) await p.waitFor(/"msg":"ready"/);
});

after(() => {
  for (const p of [identity, ...gateways]) if (p && p.child.exitCode === null) p.kill("SIGKILL");
  gateways = [];
  urls = [];
});

const ip = () => `10.${randomInt(250)}.${randomInt(250)}.${randomInt(1, 250)}`;

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

test("two gateway processes share one per-IP query budget through Redis", async () => {
  const client = { "x-forwarded-for": ip() };
  const remaining: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await post(urls[i % 2] as string, { query: "{ __typename }" }, client);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    remaining.push(r.headers.get("ratelimit-remaining") ?? "");
  }
  assert.deepEqual(remaining, ["5", "4", "3", "2", "1", "0"], "each replica saw the other's requests");
  for (const url of urls) {
    const over = await post(url, { query: "{ __typename }" }, client);
    assert.equal(over.status, 429);
    assert.equal(over.body.errors[0].extensions.code, "RATE_LIMITED");
    assert.ok(Number(over.headers.get("retry-after")) >= 1);
  }
  // Another client (another forwarded address) is not affected.
  assert.equal((await post(urls[0] as string, { query: "{ __typename }" }, { "x-forwarded-for": ip() })).status, 200);
});

test("the same Idempotency-Key sent to both replicas at once: one account, the first answer replayed", async () => {
  const username = unique("idem");
  const body = {
    query: "mutation($input: RegisterInput!) { register(input: $input) { user { id username } } }",
    variables: { input: { email: `${username}@example.com`, username, password: "correct horse battery" } },
  };
  const headers = { "x-forwarded-for": ip(), "idempotency-key": `reg-${username}` };
  const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => post(urls[i % 2] as string, body, headers)));
  for (const r of rs) assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  const ids = new Set(rs.map((r) => r.body.data.register.user.id));
  assert.equal(ids.size, 1, "one account; without the key nine would be ALREADY_EXISTS");
  assert.equal(rs.filter((r) => r.headers.get("idempotent-replayed") === "true").length, 9);
  const reuse = await post(
    urls[1] as string,
    { ...body, variables: { input: { ...body.variables.input, password: "another long password" } } },
    headers,
  );
  assert.equal(reuse.status, 422);
  assert.equal(reuse.body.errors[0].extensions.code, "IDEMPOTENCY_KEY_REUSED");
});
