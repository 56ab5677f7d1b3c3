/**
 * The gateway's HTTP protections under attack, every module in one process (embedded):
 * query limits, persisted operations, batching, body size, content types,
 * GET mutations, CORS, call budget, scalars, rate limits and Idempotency-Key.
 * (Two gateway processes sharing Redis: gateway-distributed.test.ts.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, startInProcess, unique } from "./helpers.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

let nova: Nova;
let url: string;

before(async () => {
  ({ nova, url } = await startInProcess({
    GATEWAY_MAX_BATCH: "5",
    GATEWAY_CORS_ORIGINS: "https://app.example",
  }));
});
after(() => nova.stop());

async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: json };
}

const code = (r: { body: { errors?: { extensions?: { code?: string } }[] } }) => r.body.errors?.[0]?.extensions?.code;

describe("query limits (before execution)", () => {
  test("alias overloading: 100 aliases -> 400 TOO_MANY_ALIASES", async () => {
    const q = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: user(username: "x") { id }`).join(" ")} }`;
    const r = await post({ query: q });
    assert.equal(r.status, 400);
    assert.equal(code(r), "TOO_MANY_ALIASES");
  });

  test("15 aliases are fine", async () => {
    const q = `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: __typename`).join(" ")} }`;
    const r = await post({ query: q });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.a14, "Query");
  });

  test("deep nesting: depth 50 -> 400 QUERY_TOO_DEEP naming the field", async () => {
    let inner = "id";
    for (let i = 0; i < 16; i++) inner = `followers { edges { node { ${inner} } } }`;
    const q = `{ me { ${inner} } }`; // 1 + 16 * 3 + 1 = 50 levels
    const r = await post({ query: q });
    assert.equal(r.status, 400);
    assert.equal(code(r), "QUERY_TOO_DEEP");
    assert.equal(r.body.errors[0].extensions.field, "me");
    assert.match(r.body.errors[0].message, /depth 50 exceeds the maximum of 10/);
  });

  test("circular fragments -> 400 GRAPHQL_VALIDATION_FAILED, measured without looping", async () => {
    const q = `query { me { ...A } }
      fragment A on User { followers { edges { node { ...B } } } }
      fragment B on User { following { edges { node { ...A } } } }`;
    const t0 = performance.now();
    const r = await post({ query: q });
    assert.ok(performance.now() - t0 < 1_000);
    assert.equal(r.status, 400);
    assert.equal(code(r), "GRAPHQL_VALIDATION_FAILED");
    assert.match(r.body.errors[0].message, /fragment "A" spreads itself \(A -> B -> A\)/);
  });

  test("field duplication: 10,000 copies of one field -> 400 TOO_MANY_TOKENS, quickly", async () => {
    const q = `{ me { ${"id ".repeat(10_000)} } }`;
    const t0 = performance.now();
    const r = await post({ query: q });
    const ms = performance.now() - t0;
    assert.equal(r.status, 400);
    assert.equal(code(r), "TOO_MANY_TOKENS");
    assert.ok(ms < 500, `refused in ${ms.toFixed(0)} ms`);
  });

  test("a fragment bomb (2^20 expanded fields in 200 tokens) -> QUERY_TOO_COMPLEX, quickly", async () => {
    const frags = Array.from({ length: 20 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
    const q = `{ ...F0 } ${frags.join(" ")} fragment F20 on Query { __typename }`;
    const t0 = performance.now();
    const r = await post({ query: q });
    assert.ok(performance.now() - t0 < 500);
    assert.equal(r.status, 400);
    assert.equal(code(r), "QUERY_TOO_COMPLEX");
  });

  test("cost: list fields multiply by first -> 400 QUERY_TOO_COMPLEX; the same shape with small pages runs", async () => {
    const shape = (n: number) =>
      `{ user(username: "nobody_here") { followers(first: ${n}) { edges { node { following(first: ${n}) { edges { node { id username } } } } } } } }`;
    const big = await post({ query: shape(100) });
    assert.equal(big.status, 400);
    assert.equal(code(big), "QUERY_TOO_COMPLEX");
    assert.equal(big.body.errors[0].extensions.field, "user");
    assert.match(big.body.errors[0].message, /cost \d+ exceeds the maximum of 5000/);
    const viaVariables = await post({
      query: `query($n: Int) { user(username: "x") { followers(first: $n) { edges { node { following(first: $n) { edges { node { id } } } } } } } }`,
      variables: { n: 100 },
    });
    assert.equal(code(viaVariables), "QUERY_TOO_COMPLEX", "variables count");
    const small = await post({ query: shape(5) });
    assert.equal(small.status, 200, JSON.stringify(small.body));
    assert.equal(small.body.data.user, null);
  });

  test("directives: 11 -> 400 TOO_MANY_DIRECTIVES", async () => {
    const q = `{ ${Array.from({ length: 11 }, () => "__typename @include(if: true)").join(" ")} }`;
    const r = await post({ query: q });
    assert.equal(r.status, 400);
    assert.equal(code(r), "TOO_MANY_DIRECTIVES");
  });

  test("a batch of 1,000 operations -> 400 BATCH_NOT_ALLOWED; a batch of 2 runs and shares the cost limit", async () => {
    const r = await post(Array.from({ length: 1_000 }, () => ({ query: "{ __typename }" })));
    assert.equal(r.status, 400);
    assert.equal(code(r), "BATCH_NOT_ALLOWED");
    const ok = await post([{ query: "{ __typename }" }, { query: "{ a: __typename }" }]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(
      ok.body.map((x: { data: unknown }) => x.data),
      [{ __typename: "Query" }, { a: "Query" }],
    );
    // 1,102 each: five fit no single limit but break the shared one.
    const each = `{ user(username: "x") { followers(first: 100) { edges { cursor node { id username displayName bio avatarUrl createdAt followerCount followingCount } } } } }`;
    const costly = await post(Array.from({ length: 5 }, () => ({ query: each })));
    assert.equal(costly.status, 400);
    assert.equal(code(costly), "QUERY_TOO_COMPLEX");
    assert.match(costly.body.errors[0].message, /the batch costs/);
  });
});

describe("request rules", () => {
  test("a 5 MB string argument -> 413 PAYLOAD_TOO_LARGE", async () => {
    const r = await post({
      query: "mutation($t: String!) { createPost(input: { text: $t }) { id } }",
      variables: { t: "x".repeat(5 * 1024 * 1024) },
    });
    assert.equal(r.status, 413);
    assert.equal(code(r), "PAYLOAD_TOO_LARGE");
  });

  test("wrong content types -> 415 UNSUPPORTED_MEDIA_TYPE; both JSON types are accepted", async () => {
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/graphql",
      "multipart/form-data",
    ]) {
      const r = await post('{"query":"{ __typename }"}', { "content-type": type });
      assert.equal(r.status, 415, type);
      assert.equal(code(r), "UNSUPPORTED_MEDIA_TYPE");
      assert.equal(r.body.errors[0].extensions.field, "content-type");
    }
    for (const type of ["application/json; charset=utf-8", "application/graphql-response+json"]) {
      const r = await post('{"query":"{ __typename }"}', { "content-type": type });
      assert.equal(r.status, 200, type);
      assert.equal(r.body.data.__typename, "Query");
    }
  });

  test("a mutation over GET -> 405 METHOD_NOT_ALLOWED; a query over GET works", async () => {
    const m = await fetch(`${url}?query=${encodeURIComponent("mutation { logout }")}`);
    assert.equal(m.status, 405);
    assert.equal(
      ((await m.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
      "METHOD_NOT_ALLOWED",
    );
    const q = await fetch(`${url}?query=${encodeURIComponent("{ __typename }")}`);
    assert.equal(q.status, 200);
  });

  test("CORS: only configured origins", async () => {
    const pre = (origin: string) =>
      fetch(url, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const ok = await pre("https://app.example");
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
    const evil = await pre("https://evil.example");
    assert.equal(evil.headers.get("access-control-allow-origin"), null);
  });
});

describe("persisted operations (development: APQ)", () => {
  test("unknown hash -> PERSISTED_QUERY_NOT_FOUND; registered with the text, then by hash alone", async () => {
    const query = `{ a_${unique("x").slice(2, 10)}: __typename }`;
    const ext = { persistedQuery: { version: 1, sha256Hash: sha(query) } };
    const miss = await post({ extensions: ext });
    assert.equal(miss.status, 400);
    assert.equal(code(miss), "PERSISTED_QUERY_NOT_FOUND");
    const reg = await post({ query, extensions: ext });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    const hit = await post({ extensions: ext });
    assert.equal(hit.status, 200);
    assert.deepEqual(Object.values(hit.body.data), ["Query"]);
    const wrong = await post({ query: "{ __typename }", extensions: ext });
    assert.equal(code(wrong), "BAD_USER_INPUT");
    assert.equal(wrong.body.errors[0].extensions.field, "extensions.persistedQuery.sha256Hash");
  });
});

describe("backend call budget", () => {
  test("an operation needing more than 12 backend RPCs is stopped with CALL_BUDGET_EXCEEDED", async () => {
    const a = await register(url);
    const q = `{ ${Array.from({ length: 14 }, (_, i) => `u${i}: user(username: "${a.user.username}") { id }`).join(" ")} }`;
    const r = await post({ query: q });
    assert.equal(r.status, 200);
    const codes = r.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code);
    assert.ok(codes.length >= 2 && codes.every((c: string) => c === "CALL_BUDGET_EXCEEDED"), JSON.stringify(codes));
    const served = Object.values(r.body.data).filter((v) => v !== null);
    assert.equal(served.length, 12, "exactly the budget was spent");
    const fine = await post({ query: `{ u0: user(username: "${a.user.username}") { id } }` });
    assert.equal(fine.body.errors, undefined);
  });
});

describe("custom scalars", () => {
  test("bad Email / Username / URL -> BAD_USER_INPUT naming the field, as literals and as variables", async () => {
    const lit = await post({
      query: `mutation { register(input: {email: "not-an-email", username: "fine_name", password: "correct horse battery"}) { accessToken } }`,
    });
    assert.equal(lit.status, 400);
    assert.equal(code(lit), "BAD_USER_INPUT");
    assert.equal(lit.body.errors[0].extensions.field, "email");
    const vars = await post({
      query: "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
      variables: { input: { email: "a@example.com", username: "bad name!", password: "correct horse battery" } },
    });
    assert.equal(vars.status, 400);
    assert.equal(code(vars), "BAD_USER_INPUT");
    assert.equal(vars.body.errors[0].extensions.field, "username");
    const a = await register(url);
    const media = await gql(
      url,
      `mutation { createPost(input: { text: "hi", media: [{ url: "http://x.example/a.png", mimeType: "image/png", width: 1, height: 1 }] }) { id } }`,
      { token: a.accessToken },
    );
    assert.equal(media.status, 400);
    assert.equal(media.body.errors[0].extensions.code, "BAD_USER_INPUT");
    assert.equal(media.body.errors[0].extensions.field, "media[0].url");
    assert.match(media.body.errors[0].message, /https/);
  });

  test("DateTime and Cursor come out as RFC 3339 and opaque strings", async () => {
    const a = await register(url);
    await gql(url, `mutation { createPost(input: { text: "one" }) { id } }`, { token: a.accessToken });
    const r = await gql(
      url,
      `{ me { createdAt posts(first: 1) { edges { cursor node { createdAt } } pageInfo { endCursor } } } }`,
      { token: a.accessToken },
    );
    assert.match(r.body.data.me.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    assert.match(r.body.data.me.posts.edges[0].node.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    assert.match(r.body.data.me.posts.edges[0].cursor, /^[A-Za-z0-9_-]+=*$/);
  });
});

describe("Idempotency-Key (in-process store)", () => {
  test("10 concurrent identical requests: one post, one response replayed to all", async () => {
    const a = await register(url);
    const key = `k-${unique("i")}`;
    const body = { query: `mutation { createPost(input: { text: "once ${key}" }) { id text } }` };
    const rs = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(body, { authorization: `Bearer ${a.accessToken}`, "idempotency-key": key }),
      ),
    );
    const ids = new Set(rs.map((r) => r.body.data?.createPost?.id));
    assert.equal(ids.size, 1, JSON.stringify(rs.map((r) => r.body)));
    assert.ok(rs.every((r) => r.status === 200));
    assert.equal(rs.filter((r) => r.headers.get("idempotent-replayed") === "true").length, 9);
    const mine = await gql(url, "{ me { posts(first: 50) { edges { node { id } } } } }", { token: a.accessToken });
    assert.equal(mine.body.data.me.posts.edges.length, 1, "the effect happened once");

    const other = await post(
      { query: `mutation { createPost(input: { text: "something else" }) { id } }` },
      { authorization: `Bearer ${a.accessToken}`, "idempotency-key": key },
    );
    assert.equal(other.status, 422);
    assert.equal(code(other), "IDEMPOTENCY_KEY_REUSED");

    const bad = await post(body, { authorization: `Bearer ${a.accessToken}`, "idempotency-key": "has spaces" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].extensions.field, "Idempotency-Key");
  });
});

describe("rate limits (in-process, embedded without Redis)", () => {
  let small: { nova: Nova; url: string };
  before(async () => {
    small = await startInProcess({
      GATEWAY_RATE_IP_QUERIES: "5",
      GATEWAY_RATE_IP_MUTATIONS: "3",
      GATEWAY_RATE_WINDOW_S: "60",
    });
  });
  after(() => small.nova.stop());

  test("queries (signed-out explore among them) and mutations have separate budgets; 429 with Retry-After and RateLimit headers", async () => {
    for (let i = 0; i < 5; i++) {
      // Signed-out explore spends the same per-IP query budget.
      const r = await gql(small.url, i % 2 ? "{ explore(first: 1) { edges { cursor } } }" : "{ __typename }");
      assert.equal(r.status, 200);
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      assert.equal(r.headers.get("ratelimit-limit"), "5");
      assert.equal(r.headers.get("ratelimit-remaining"), String(4 - i));
    }
    const over = await gql(small.url, "{ __typename }");
    assert.equal(over.status, 429);
    assert.equal(over.body.errors[0].extensions.code, "RATE_LIMITED");
    const retry = Number(over.headers.get("retry-after"));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal(over.headers.get("ratelimit-remaining"), "0");
    // The mutation budget is untouched.
    const m = await gql(small.url, "mutation { logout }");
    assert.equal(m.status, 200);
    assert.equal(m.body.errors[0].extensions.code, "UNAUTHENTICATED");
    assert.equal(m.headers.get("ratelimit-limit"), "3");
  });
});

describe("production mode (NODE_ENV=production, embedded)", () => {
  let prod: { nova: Nova; url: string };
  before(async () => {
    // Verification (on by default in production) is tested on its own (account-lifecycle): sign-ups here sign in.
    prod = await startInProcess({ NODE_ENV: "production", IDENTITY_REQUIRE_VERIFIED_EMAIL: "false" });
  });
  after(() => prod.nova.stop());

  const send = (body: unknown) =>
    fetch(prod.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] },
    }));

  test("introspection -> 400 PERSISTED_QUERY_REQUIRED; an unknown persisted hash -> 400 PERSISTED_QUERY_NOT_FOUND", async () => {
    const intro = await send({ query: "{ __schema { types { name } } }" });
    assert.equal(intro.status, 400);
    assert.equal(intro.body.errors?.[0]?.extensions.code, "PERSISTED_QUERY_REQUIRED");
    const unknown = await send({ extensions: { persistedQuery: { version: 1, sha256Hash: sha("{ me { id } }") } } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.errors?.[0]?.extensions.code, "PERSISTED_QUERY_NOT_FOUND");
  });

  test("allow-listed operations run by hash", async () => {
    const { loadManifest } = await import("../src/gateway/persisted.ts");
    const ops = Object.entries(loadManifest().operations);
    const hashOf = (name: string) => (ops.find(([, o]) => o.name === name) as [string, unknown])[0];
    const username = unique("prod");
    const reg = await send({
      operationName: "Register",
      variables: { input: { email: `${username}@example.com`, username, password: "correct horse battery" } },
      extensions: { persistedQuery: { version: 1, sha256Hash: hashOf("Register") } },
    });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    const token = (reg.body.data as { register: { accessToken: string } }).register.accessToken;
    const me = await fetch(prod.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hashOf("Me") } } }),
    });
    assert.equal(((await me.json()) as { data: { me: { username: string } } }).data.me.username, username);
  });
});
