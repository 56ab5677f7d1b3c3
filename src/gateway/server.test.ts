/** The gateway's HTTP protections in production mode and under pressure, over backends that are stubs (no services needed). */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DescService } from "@bufbuild/protobuf";
import pino from "pino";
import { NovaError } from "../platform/errors.ts";
import { runWithCall } from "../platform/rpc/context.ts";
import { type BackendName, backends } from "./backends.ts";
import { attachBudget } from "./budget.ts";
import type { GatewayDeps } from "./context.ts";
import { defaultSecurity, type SecurityOptions } from "./security.ts";
import { buildGateway } from "./server.ts";

function gateway(production: boolean, security: Partial<SecurityOptions> = {}, stubs: Record<string, object> = {}) {
  const identity = {
    getUserByUsername: async ({ username }: { username: string }) => {
      if (username === "boom") throw new Error("connect ECONNREFUSED 10.0.0.7:5432 password=hunter2");
      if (username === "down") throw new NovaError("UNAVAILABLE", "connect ECONNREFUSED 10.1.2.3:50051");
      throw new NovaError("NOT_FOUND");
    },
    getJwks: async () => ({ jwksJson: "{}" }),
  };
  return buildGateway({
    log: pino({ level: "silent" }),
    production,
    requestTimeoutMs: 5_000,
    identity,
    graph: {},
    content: {},
    feed: {},
    media: {},
    messaging: {},
    notifications: {},
    search: {},
    moderation: {},
    export: {},
    ...stubs,
    verify: async () => {
      throw new Error("no tokens here");
    },
    // Building a gateway blocks the loop for a moment; only the shedding test measures pressure.
    security: { ...defaultSecurity(production), maxEventLoopDelayMs: 0, ...security },
  } as unknown as GatewayDeps);
}

const post = (app: Awaited<ReturnType<typeof gateway>>, body: unknown) =>
  app.inject({
    method: "POST",
    url: "/graphql",
    payload: body as object,
    headers: { "content-type": "application/json" },
  });

test("production: only allow-listed operations; introspection and unknown hashes are refused", async () => {
  const app = await gateway(true);
  const intro = await post(app, { query: "{ __schema { types { name } } }" });
  assert.equal(intro.statusCode, 400);
  assert.equal(intro.json().errors[0].extensions.code, "PERSISTED_QUERY_REQUIRED");
  const unknown = await post(app, { extensions: { persistedQuery: { version: 1, sha256Hash: "ab".repeat(32) } } });
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.json().errors[0].extensions.code, "PERSISTED_QUERY_NOT_FOUND");
  assert.equal((await app.inject({ method: "GET", url: "/graphiql" })).statusCode, 404, "no GraphiQL");
  await app.close();
});

test("production with ad-hoc operations allowed: introspection off, no field suggestions, no internal messages", async () => {
  const app = await gateway(true, { persistedOnly: false });
  const intro = await post(app, { query: "{ __schema { types { name } } }" });
  assert.equal(intro.statusCode, 400);
  assert.equal(intro.json().errors[0].extensions.code, "INTROSPECTION_DISABLED");
  const typo = await post(app, { query: '{ usr(username: "x") { id } }' });
  assert.equal(typo.statusCode, 400);
  assert.doesNotMatch(typo.body, /Did you mean/);
  const boom = await post(app, { query: '{ user(username: "boom") { id } }' });
  assert.equal(boom.json().errors[0].extensions.code, "INTERNAL");
  assert.equal(boom.json().errors[0].message, "internal error");
  assert.match(boom.json().errors[0].extensions.traceId, /^[0-9a-f]{32}$/);
  assert.doesNotMatch(boom.body, /ECONNREFUSED|hunter2|stack|at /);
  const down = await post(app, { query: '{ user(username: "down") { id } }' });
  assert.equal(down.json().errors[0].extensions.code, "UNAVAILABLE");
  assert.doesNotMatch(down.body, /ECONNREFUSED|10\.1\.2\.3/);
  await app.close();
});

test("development: suggestions and introspection stay; batching is off by default", async () => {
  const app = await gateway(false);
  const typo = await post(app, { query: '{ usr(username: "x") { id } }' });
  assert.match(typo.json().errors[0].message, /Did you mean "user"\?/);
  assert.equal((await post(app, { query: "{ __schema { queryType { name } } }" })).statusCode, 200);
  const batch = await post(app, [{ query: "{ __typename }" }, { query: "{ __typename }" }]);
  assert.equal(batch.statusCode, 400);
  assert.equal(batch.json().errors[0].extensions.code, "BATCH_NOT_ALLOWED");
  await app.close();
});

test("load shedding: past the heap limit /graphql answers 503 + Retry-After; health still answers", async () => {
  const app = await gateway(false, { maxHeapUsedBytes: 1 });
  await app.ready();
  let res = await post(app, { query: "{ __typename }" });
  for (let i = 0; i < 40 && res.statusCode !== 503; i++) {
    await new Promise((r) => setTimeout(r, 100));
    res = await post(app, { query: "{ __typename }" });
  }
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers["retry-after"], "5");
  assert.equal(res.json().errors[0].extensions.code, "OVERLOADED");
  assert.equal((await app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  await app.close();
});

test("every backend in the table reaches the resolvers guarded: over the call budget, no call reaches it", async () => {
  const reached: string[] = [];
  const stub = (name: string) =>
    new Proxy({}, { get: (_t, method) => async () => void reached.push(`${name}.${String(method)}`) });
  const clients = Object.fromEntries(Object.keys(backends).map((n) => [n, stub(n)]));
  const app = await buildGateway({
    log: pino({ level: "silent" }),
    production: false,
    requestTimeoutMs: 5_000,
    ...clients,
    verify: async () => {
      throw new Error("no tokens here");
    },
    security: { ...defaultSecurity(false), maxEventLoopDelayMs: 0 },
  } as unknown as GatewayDeps);
  let seen: GatewayDeps | undefined;
  app.graphql.addHook("preExecution", async (_schema, _doc, ctx) => {
    seen = (ctx as unknown as { deps: GatewayDeps }).deps;
  });
  assert.equal((await post(app, { query: "{ __typename }" })).statusCode, 200);
  assert.ok(seen);
  for (const [name, service] of Object.entries(backends) as [BackendName, DescService][]) {
    const client = seen[name] as unknown as Record<string, (req: unknown) => Promise<unknown>>;
    const method = service.methods[0]?.localName as string;
    const call = {};
    attachBudget(call, 0);
    await runWithCall(call, () =>
      assert.rejects(
        client[method]?.({}) as Promise<unknown>,
        (e: NovaError) => e.code === "CALL_BUDGET_EXCEEDED",
        name,
      ),
    );
  }
  assert.deepEqual(reached, [], "a backend was called past the budget");
  await app.close();
});

test("production: every route x every method runs no operation past the HTTP protections (HEAD included)", async () => {
  const app = await gateway(true);
  // The route list comes from Fastify itself, so a new route cannot be missed.
  const urls = [
    ...new Set(
      app
        .printRoutes({ commonPrefix: false })
        .split("\n")
        .map((l) => /(\/\S*) \(/.exec(l)?.[1])
        .filter((u): u is string => !!u && !u.includes("*")),
    ),
  ];
  assert.ok(urls.includes("/graphql"), `routes: ${urls.join(", ")}`);
  const mutation = 'mutation{register(input:{email:"a@b.c",username:"abc",password:"x"}){accessToken}}';
  const q = `?query=${encodeURIComponent(mutation)}`;
  for (const url of urls) {
    for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const) {
      const res = await app.inject({
        method,
        url: `${url}${q}`,
        headers: { "content-type": "application/json" },
        ...(method === "GET" || method === "HEAD" ? {} : { payload: { query: mutation } }),
      });
      if (url !== "/graphql") continue;
      assert.ok(res.statusCode >= 400, `${method} ${url}: refused (got ${res.statusCode})`);
      if (method === "HEAD") assert.equal(res.statusCode, 405, "HEAD /graphql: 405");
      assert.ok(!/"register":\{/.test(res.body), `${method} ${url}: ${res.body}`);
    }
  }
  await app.close();
});

test("a page whose hydration fails answers the coded error, not a page with holes that looks complete", async () => {
  const star = {
    id: "0190a5b1-0000-7000-8000-000000000001",
    username: "star",
    displayName: "",
    bio: "",
    avatarUrl: "",
  };
  const app = await gateway(
    false,
    {},
    {
      identity: {
        getUserByUsername: async () => ({ user: star }),
        // Under load a batch can miss its deadline or find its backend shedding.
        batchGetUsers: async () => {
          throw new NovaError("UNAVAILABLE", "identity is shedding load");
        },
        getJwks: async () => ({ jwksJson: "{}" }),
      },
      graph: {
        listFollowers: async () => ({ userIds: ["a", "b"], cursors: ["c1", "c2"], nextCursor: "c2" }),
      },
    },
  );
  const res = await post(app, {
    query: '{ user(username: "star") { followers(first: 2) { edges { node { id } } } } }',
  });
  const body = res.json();
  assert.equal(body.errors?.[0]?.extensions?.code, "UNAVAILABLE", JSON.stringify(body));
  assert.notDeepEqual(body.data?.user?.followers, { edges: [] }, "no empty page passed off as the answer");
  await app.close();
});

test("the public port serves no /metrics, in production and in development (they are on ADMIN_PORT)", async () => {
  for (const production of [true, false]) {
    const app = await gateway(production);
    for (const method of ["GET", "HEAD"] as const) {
      const res = await app.inject({ method, url: "/metrics" });
      assert.equal(res.statusCode, 404, `${method} /metrics (production ${production}): ${res.statusCode}`);
      assert.ok(!res.body.includes("nova_"), "no metric in the answer");
    }
    await app.close();
  }
});

test("security headers on every answer; /graphql answers are never cached; GraphiQL still loads in development", async () => {
  const prod = await gateway(true);
  const answers = {
    refusal: await post(prod, { query: "{ __typename }" }),
    health: await prod.inject({ method: "GET", url: "/healthz" }),
    missing: await prod.inject({ method: "GET", url: "/nowhere" }),
    head: await prod.inject({ method: "HEAD", url: "/graphql" }),
  };
  for (const [name, res] of Object.entries(answers)) {
    assert.equal(res.headers["x-content-type-options"], "nosniff", `${name}: nosniff`);
    assert.equal(res.headers["x-frame-options"], "DENY", `${name}: no framing`);
    assert.match(String(res.headers["content-security-policy"]), /default-src 'none'/, `${name}: CSP`);
    assert.match(String(res.headers["strict-transport-security"]), /max-age=\d+/, `${name}: HSTS`);
  }
  assert.equal(answers.refusal.headers["cache-control"], "no-store", "a /graphql answer is not cached");
  assert.equal(answers.head.headers["cache-control"], "no-store");
  await prod.close();

  const dev = await gateway(false);
  const ok = await post(dev, { query: "{ __typename }" });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.headers["cache-control"], "no-store");
  assert.equal(ok.headers["x-content-type-options"], "nosniff");
  const page = await dev.inject({ method: "GET", url: "/graphiql" });
  assert.equal(page.statusCode, 200, "GraphiQL is served in development");
  assert.equal(page.headers["content-security-policy"], undefined, "GraphiQL's page may load its scripts");
  await dev.close();
});
