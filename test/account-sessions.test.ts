/**
 * Sessions end to end through GraphQL: every sign-in is a session the user can list (device, IP,
 * created, last used) and end; an ended session's access and refresh tokens stop working at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { IdentityService } from "../src/gen/nova/identity/v1/identity_pb.ts";
import type { Nova } from "../src/runtime/app.ts";
import { clientAs, gql, register, services, startInProcess } from "./helpers.ts";

let nova: Nova;
let url: string;
let pool: pg.Pool;
const PASSWORD = "correct horse battery";

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }`;
const REFRESH = `mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken } }`;
const SESSIONS = `query($first: Int, $after: String) {
  sessions(first: $first, after: $after) {
    edges { cursor node { id userAgent ip createdAt lastUsedAt current } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const END = `mutation($id: ID!) { endSession(sessionId: $id) }`;

interface SessionNode {
  id: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  current: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: test convenience
function errorOf(body: any): { code: string; field?: string } {
  const e = body?.errors?.[0];
  assert.ok(e, `expected an error: ${JSON.stringify(body)}`);
  return { code: e.extensions?.code, field: e.extensions?.field };
}

async function loginFrom(username: string, userAgent: string) {
  const r = await gql(url, LOGIN, {
    variables: { input: { identifier: username, password: PASSWORD } },
    headers: { "user-agent": userAgent },
  });
  assert.ok(r.body.data?.login, JSON.stringify(r.body));
  return r.body.data.login as { accessToken: string; refreshToken: string };
}

async function sessionsOf(token: string, first?: number, afterCursor?: string) {
  const r = await gql(url, SESSIONS, { token, variables: { first, after: afterCursor } });
  assert.ok(r.body.data?.sessions, JSON.stringify(r.body));
  return r.body.data.sessions as {
    edges: { cursor: string; node: SessionNode }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

before(async () => {
  pool = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
  ({ nova, url } = await startInProcess());
});

after(async () => {
  await nova?.stop();
  await pool?.end();
});

describe("sessions through GraphQL", () => {
  test("each sign-in is listed with its device and IP, newest first, paged; the current one is marked", async () => {
    const u = await register(url);
    const phone = await loginFrom(u.user.username, "NovaPhone/1.0 (iOS 18)");
    const laptop = await loginFrom(u.user.username, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    const all = await sessionsOf(laptop.accessToken);
    assert.equal(all.edges.length, 3);
    assert.equal(all.pageInfo.hasNextPage, false);
    const [newest, middle, oldest] = all.edges.map((e) => e.node) as [SessionNode, SessionNode, SessionNode];
    assert.deepEqual(
      [newest.userAgent, newest.current, middle.userAgent, middle.current, oldest.current],
      ["Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", true, "NovaPhone/1.0 (iOS 18)", false, false],
    );
    for (const s of [newest, middle, oldest]) {
      assert.match(s.ip ?? "", /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
      assert.ok(Date.parse(s.lastUsedAt) >= Date.parse(s.createdAt) - 1, JSON.stringify(s));
    }
    // Two at a time: the second page has the rest and no further page.
    const first = await sessionsOf(phone.accessToken, 2);
    assert.equal(first.edges.length, 2);
    assert.equal(first.pageInfo.hasNextPage, true);
    const second = await sessionsOf(phone.accessToken, 2, first.pageInfo.endCursor ?? "");
    assert.deepEqual(
      second.edges.map((e) => e.node.id),
      [oldest.id],
    );
    assert.equal(second.pageInfo.hasNextPage, false);
    // The phone's own listing marks the phone's session.
    assert.equal(first.edges.find((e) => e.node.current)?.node.id, middle.id);
  });

  test("a refresh records the device it came from", async () => {
    const u = await register(url);
    const s = await loginFrom(u.user.username, "OldBrowser/1");
    const r = await gql(url, REFRESH, { variables: { t: s.refreshToken }, headers: { "user-agent": "NewBrowser/2" } });
    assert.ok(r.body.data?.refreshToken.accessToken, JSON.stringify(r.body));
    const list = await sessionsOf(r.body.data.refreshToken.accessToken);
    const mine = list.edges.find((e) => e.node.current)?.node;
    assert.equal(mine?.userAgent, "NewBrowser/2");
  });

  test("ending a session stops its access and refresh tokens at once; the others go on", async () => {
    const u = await register(url);
    const phone = await loginFrom(u.user.username, "NovaPhone/1.0");
    const laptop = await loginFrom(u.user.username, "Laptop/1.0");
    // The phone's session is in the gateway's cache of active sessions now.
    assert.equal((await gql(url, "{ me { id } }", { token: phone.accessToken })).status, 200);
    const phoneId = (await sessionsOf(phone.accessToken)).edges.find((e) => e.node.current)?.node.id;
    assert.ok(phoneId);
    const ended = await gql(url, END, { token: laptop.accessToken, variables: { id: phoneId } });
    assert.deepEqual(ended.body, { data: { endSession: true } });

    const me = await gql(url, "{ me { id } }", { token: phone.accessToken });
    assert.equal(me.status, 401, JSON.stringify(me.body));
    const refreshed = await gql(url, REFRESH, { variables: { t: phone.refreshToken } });
    assert.equal(errorOf(refreshed.body).code, "TOKEN_INVALID");
    const left = await sessionsOf(laptop.accessToken);
    assert.equal(
      left.edges.some((e) => e.node.id === phoneId),
      false,
    );
    assert.equal(left.edges.length, 2);
    assert.equal((await gql(url, "{ me { id } }", { token: laptop.accessToken })).status, 200);

    // Ending it again, or a session that is not the user's, is NOT_FOUND naming the field.
    const again = await gql(url, END, { token: laptop.accessToken, variables: { id: phoneId } });
    assert.deepEqual(errorOf(again.body), { code: "NOT_FOUND", field: "sessionId" });
    const other = await register(url);
    const otherId = (await sessionsOf(other.accessToken)).edges[0]?.node.id;
    const theirs = await gql(url, END, { token: laptop.accessToken, variables: { id: otherId } });
    assert.deepEqual(errorOf(theirs.body), { code: "NOT_FOUND", field: "sessionId" });
    assert.equal((await gql(url, "{ me { id } }", { token: other.accessToken })).status, 200);

    // The current session can end itself.
    const self = (await sessionsOf(laptop.accessToken)).edges.find((e) => e.node.current)?.node.id;
    assert.deepEqual((await gql(url, END, { token: laptop.accessToken, variables: { id: self } })).body, {
      data: { endSession: true },
    });
    assert.equal((await gql(url, "{ me { id } }", { token: laptop.accessToken })).status, 401);
  });

  test("bad input names the field; signed out is UNAUTHENTICATED", async () => {
    const u = await register(url);
    const bad = await gql(url, END, { token: u.accessToken, variables: { id: "not-a-uuid" } });
    assert.deepEqual(errorOf(bad.body), { code: "BAD_USER_INPUT", field: "sessionId" });
    const cursor = await gql(url, SESSIONS, { token: u.accessToken, variables: { after: "bm9wZQ" } });
    assert.deepEqual(errorOf(cursor.body), { code: "BAD_USER_INPUT", field: "cursor" });
    const size = await gql(url, SESSIONS, { token: u.accessToken, variables: { first: 0 } });
    assert.deepEqual(errorOf(size.body), { code: "BAD_USER_INPUT", field: "first" });
    const anon = await gql(url, SESSIONS);
    assert.equal(errorOf(anon.body).code, "UNAUTHENTICATED");
  });

  test("last used moves with use, at most once a minute (a write only when due)", async () => {
    const u = await register(url);
    const [id] = (await sessionsOf(u.accessToken)).edges.map((e) => e.node.id);
    const identity = clientAs(nova, IdentityService);
    const lastUsed = async () =>
      (await pool.query<{ t: Date }>("SELECT last_used_at AS t FROM identity.sessions WHERE id = $1", [id])).rows[0]
        ?.t as Date;
    await pool.query("UPDATE identity.sessions SET last_used_at = now() - interval '10 minutes' WHERE id = $1", [id]);
    assert.equal((await identity.checkSession({ sessionId: id })).active, true);
    assert.ok(Date.now() - (await lastUsed()).getTime() < 30_000, "a stale last use moves to now");
    await pool.query("UPDATE identity.sessions SET last_used_at = now() - interval '30 seconds' WHERE id = $1", [id]);
    const before = await lastUsed();
    assert.equal((await identity.checkSession({ sessionId: id })).active, true);
    assert.deepEqual(await lastUsed(), before, "used within the minute: no write");
  });
});
