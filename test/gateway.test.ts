/** The identity flows through GraphQL, every module in one process (embedded topology). */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Nova } from "../src/runtime/app.ts";
import { gql, metricValue, register, startInProcess, unique } from "./helpers.ts";

let nova: Nova;
let url: string;

before(async () => {
  ({ nova, url } = await startInProcess());
});
after(() => nova.stop());

const ME = "{ me { id username email displayName bio } }";

test("register, me, user, updateProfile, login", async () => {
  const username = unique("gw");
  const reg = await register(url, username);
  assert.match(reg.accessToken, /^ey/);
  const me = await gql(url, ME, { token: reg.accessToken });
  assert.equal(me.status, 200);
  assert.deepEqual(me.body.data.me, {
    id: reg.user.id,
    username,
    email: `${username}@example.com`,
    displayName: "",
    bio: "",
  });
  const upd = await gql(
    url,
    `mutation { updateProfile(input: {displayName: "Alice", bio: "hi", avatarUrl: "https://x.example/a.png"}) { id displayName avatarUrl } }`,
    { token: reg.accessToken },
  );
  assert.deepEqual(upd.body.data.updateProfile, {
    id: reg.user.id,
    displayName: "Alice",
    avatarUrl: "https://x.example/a.png",
  });
  const pub = await gql(url, `{ user(username: "${username.toUpperCase()}") { id username email displayName bio } }`);
  assert.deepEqual(pub.body.data.user, { id: reg.user.id, username, email: null, displayName: "Alice", bio: "hi" });
  const none = await gql(url, `{ user(username: "${unique("none")}") { id } }`);
  assert.equal(none.body.data.user, null);
  const login = await gql(
    url,
    `mutation { login(input: {identifier: "${username}", password: "correct horse battery"}) { accessToken refreshToken user { id username } } }`,
  );
  assert.equal(login.body.data.login.user.id, reg.user.id);
});

test("errors are coded and name the field; nothing is a 500", async () => {
  const bad = await gql(
    url,
    `mutation { register(input: {email: "x@example.com", username: "no spaces", password: "correct horse battery"}) { accessToken } }`,
  );
  // The Username scalar refuses it before anything runs (400), with the identity service's code and field.
  assert.equal(bad.status, 400);
  assert.equal(bad.body.errors[0].extensions.code, "BAD_USER_INPUT");
  assert.equal(bad.body.errors[0].extensions.field, "username");
  assert.match(bad.body.errors[0].message, /^username: /);

  const wrong = await gql(
    url,
    `mutation { login(input: {identifier: "${unique("ghost")}", password: "whatever it is"}) { accessToken } }`,
  );
  assert.equal(wrong.body.errors[0].extensions.code, "INVALID_CREDENTIALS");

  const anon = await gql(url, ME);
  assert.equal(anon.body.errors[0].extensions.code, "UNAUTHENTICATED");

  const garbage = await gql(url, ME, { token: "not.a.jwt" });
  assert.equal(garbage.status, 401);
  assert.equal(garbage.body.errors[0].extensions.code, "TOKEN_INVALID");

  const invalidQuery = await gql(url, "{ nope }");
  assert.equal(invalidQuery.status, 400);
  assert.equal(invalidQuery.body.errors[0].extensions.code, "GRAPHQL_VALIDATION_FAILED");

  const missingArg = await gql(url, 'mutation { register(input: {email: "a@b.co"}) { accessToken } }');
  assert.equal(missingArg.status, 400);
  assert.match(missingArg.body.errors[0].message, /username/);
});

test("refresh rotation, reuse detection, logout and logoutAll through GraphQL", async () => {
  const reg = await register(url);
  const REFRESH = "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken } }";
  const r1 = await gql(url, REFRESH, { variables: { t: reg.refreshToken } });
  const next = r1.body.data.refreshToken;
  assert.ok(next.refreshToken && next.refreshToken !== reg.refreshToken);
  const reuse = await gql(url, REFRESH, { variables: { t: reg.refreshToken } });
  assert.equal(reuse.body.errors[0].extensions.code, "TOKEN_INVALID");
  const dead = await gql(url, REFRESH, { variables: { t: next.refreshToken } });
  assert.equal(dead.body.errors[0].extensions.code, "TOKEN_INVALID", "family revoked");

  const b = await register(url);
  const other = await gql(
    url,
    `mutation { login(input: {identifier: "${b.user.username}", password: "correct horse battery"}) { accessToken } }`,
  );
  const lo = await gql(url, "mutation { logout }", { token: b.accessToken });
  assert.equal(lo.body.data.logout, true);
  const after1 = await gql(url, ME, { token: b.accessToken });
  assert.equal(after1.status, 401, "a logged-out access token is refused at once");
  const still = await gql(url, ME, { token: other.body.data.login.accessToken });
  assert.equal(still.body.data.me.id, b.user.id);
  const all = await gql(url, "mutation { logoutAll }", { token: other.body.data.login.accessToken });
  assert.equal(all.body.data.logoutAll, 1);
  assert.equal((await gql(url, ME, { token: other.body.data.login.accessToken })).status, 401);
});

test("a body over 1 MB is refused with 413", async () => {
  const big = "x".repeat(1_100_000);
  const res = await gql(url, `{ user(username: "${big}") { id } }`);
  assert.equal(res.status, 413);
  assert.equal(res.body.errors[0].extensions.code, "PAYLOAD_TOO_LARGE");
});

test("health, readiness and JWKS are served; metrics only on the admin port (loopback)", async () => {
  const base = url.replace(/\/graphql$/, "");
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  assert.equal((await fetch(`${base}/metrics`)).status, 404, "no /metrics on the public API port");
  const admin = `http://127.0.0.1:${nova.adminPort}`;
  assert.ok((await metricValue(`${admin}/metrics`, "nova_rpc_server_handled_total", { method: "Register" })) >= 1);
  const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
  assert.equal(jwks.keys[0]?.kty, "OKP");
  assert.equal(jwks.keys[0]?.d, undefined, "no private part");
});
