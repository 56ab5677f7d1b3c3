/**
 * GraphQL subscriptions over a real WebSocket (graphql-ws) in embedded mode:
 * events -> the realtime module -> the bus -> the gateway -> the client.
 * With REDIS_URL the bus is Redis pub/sub (the slow-consumer test publishes on
 * it directly to push volume fast).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import WebSocket from "ws";
import type { Nova } from "../src/runtime/app.ts";
import { authorChannel } from "../src/services/realtime/channels.ts";
import { gql, metricValue, register, services, startInProcess, subscribe } from "./helpers.ts";

type U = Awaited<ReturnType<typeof register>>;
const FEED = "subscription { feedUpdated { id text author { username } } }";
/** About 30 KB a push (a 2,000-character post 15 times), so a stalled reader fills the kernel's buffers soon. */
const BIG = `subscription { feedUpdated { id ${Array.from({ length: 15 }, (_, i) => `t${i}: text`).join(" ")} } }`;

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("subscriptions (embedded, Redis bus)", () => {
  let nova: Nova;
  let url: string;
  let metrics: string;
  let redis: Redis;

  before(async () => {
    const s = await services();
    ({ nova, url } = await startInProcess({ REDIS_URL: s.redis }));
    metrics = `http://127.0.0.1:${nova.adminPort}/metrics`;
    redis = new Redis(s.redis);
  });
  after(async () => {
    redis.disconnect();
    await nova.stop();
  });

  const live = async (n: number) =>
    until(`${n} live subscriptions`, async () => (await metricValue(metrics, "nova_realtime_subscriptions")) >= n);
  /** Whether a subscriber listens on the author's channel in Redis (PUBSUB NUMSUB: the SUBSCRIBE is done). */
  const listenedTo = async (author: U, yes: boolean) =>
    until(`${yes ? "a" : "no"} listener on ${author.user.username}'s channel`, async () => {
      const [, n] = (await redis.pubsub("NUMSUB", authorChannel(author.user.id))) as [string, number];
      return yes ? n > 0 : n === 0;
    });
  const post = async (u: U, text: string): Promise<string> => {
    const r = await gql(url, "mutation($t: String!) { createPost(input: { text: $t }) { id } }", {
      token: u.accessToken,
      variables: { t: text },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    return r.body.data.createPost.id;
  };
  const act = async (name: string, u: U, id: string) => {
    const r = await gql(url, `mutation($id: ID!) { ${name}(userId: $id) { id } }`, {
      token: u.accessToken,
      variables: { id },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  };

  test("feedUpdated delivers posts of followed accounts, follows made later, and never muted or unfollowed ones", async () => {
    const [alice, bob, carol, dave] = await Promise.all([register(url), register(url), register(url), register(url)]);
    await act("follow", alice, bob.user.id);
    await act("follow", alice, dave.user.id);
    const before = await metricValue(metrics, "nova_realtime_subscriptions");
    const sub = await subscribe<{ feedUpdated: { id: string; text: string; author: { username: string } } }>(
      url,
      alice.accessToken,
      FEED,
    );
    try {
      await live(before + 1);
      await act("mute", alice, dave.user.id);
      await post(dave, "muted: never delivered");
      await post(carol, "not followed: never delivered");
      const id = await post(bob, "hello subscribers");
      const got = await sub.next();
      assert.deepEqual(got.feedUpdated, { id, text: "hello subscribers", author: { username: bob.user.username } });

      // A follow made while subscribed takes effect once its push has reached the stream and the
      // gateway listens on the new author's channel (a post published before that is in the feed,
      // not pushed: the test waits for the channel, as it waited for the subscription).
      await act("follow", alice, carol.user.id);
      await listenedTo(carol, true);
      const carols = await post(carol, "now followed");
      assert.equal((await sub.next()).feedUpdated.id, carols);
      // Unfollow stops it again; a later post by bob proves the stream is still alive and in order.
      await act("unfollow", alice, carol.user.id);
      await listenedTo(carol, false);
      await post(carol, "unfollowed: never delivered");
      const last = await post(bob, "still here");
      assert.equal((await sub.next()).feedUpdated.id, last);
      assert.deepEqual(sub.buffered, [], "nothing else arrived");
    } finally {
      await sub.close();
    }
  });

  test("messageReceived: a member gets each message once, in order, with its sender; others get nothing", async () => {
    const [alice, bob, eve] = await Promise.all([register(url), register(url), register(url)]);
    const conv = await gql(url, "mutation($m: [ID!]!) { createConversation(memberIds: $m) { id } }", {
      token: alice.accessToken,
      variables: { m: [bob.user.id] },
    });
    assert.equal(conv.body.errors, undefined, JSON.stringify(conv.body));
    const conversationId: string = conv.body.data.createConversation.id;
    const before = await metricValue(metrics, "nova_realtime_subscriptions");
    const q =
      "subscription($c: ID) { messageReceived(conversationId: $c) { id text conversationId sender { username } } }";
    type M = { messageReceived: { id: string; text: string; conversationId: string; sender: { username: string } } };
    const toAlice = await subscribe<M>(url, alice.accessToken, q, { c: conversationId });
    const toEve = await subscribe<M>(url, eve.accessToken, q);
    try {
      await live(before + 2);
      const send = async (text: string, clientMessageId: string) => {
        const r = await gql(
          url,
          "mutation($c: ID!, $t: String!, $k: String!) { sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { id text } }",
          { token: bob.accessToken, variables: { c: conversationId, t: text, k: clientMessageId } },
        );
        assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
        return r.body.data.sendMessage.id as string;
      };
      const first = await send("hi alice", "k1");
      assert.equal(await send("hi alice", "k1"), first, "a resend is the same message");
      const second = await send("second", "k2");
      const got = [await toAlice.next(), await toAlice.next()].map((m) => m.messageReceived);
      assert.deepEqual(got, [
        { id: first, text: "hi alice", conversationId, sender: { username: bob.user.username } },
        { id: second, text: "second", conversationId, sender: { username: bob.user.username } },
      ]);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(toAlice.buffered, [], "the resend was not pushed again");
      assert.deepEqual(toEve.buffered, [], "a non-member hears nothing");
    } finally {
      await Promise.all([toAlice.close(), toEve.close()]);
    }
  });

  test("notificationReceived: a like arrives as a notification, and again as a group when a second actor joins", async () => {
    const [author, fan1, fan2] = await Promise.all([register(url), register(url), register(url)]);
    const id = await post(author, "like me");
    const before = await metricValue(metrics, "nova_realtime_subscriptions");
    type N = { notificationReceived: { id: string; type: string; actorCount: number; post: { id: string } | null } };
    const sub = await subscribe<N>(
      url,
      author.accessToken,
      "subscription { notificationReceived { id type actorCount post { id } } }",
    );
    try {
      await live(before + 1);
      const like = async (u: U) => {
        const r = await gql(url, "mutation($id: ID!) { likePost(postId: $id) { id } }", {
          token: u.accessToken,
          variables: { id },
        });
        assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      };
      await like(fan1);
      const first = (await sub.next(30_000)).notificationReceived;
      assert.deepEqual({ ...first, id: undefined }, { id: undefined, type: "LIKE", actorCount: 1, post: { id } });
      await like(fan2);
      const second = (await sub.next(30_000)).notificationReceived;
      assert.deepEqual(second, { id: first.id, type: "LIKE", actorCount: 2, post: { id } });
    } finally {
      await sub.close();
    }
  });

  test("a bad or missing token closes the socket at connection init with 4401 and a coded reason", async () => {
    const bad = await subscribe(url, "not a token", FEED);
    assert.deepEqual(await bad.closed, {
      code: 4401,
      reason: "UNAUTHENTICATED: connectionParams.authorization must be `Bearer <token>`",
    });
    const forged = await subscribe(url, "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", FEED);
    const c = await forged.closed;
    assert.equal(c.code, 4401);
    assert.match(c.reason, /^TOKEN_INVALID: /);
    const none = await subscribe(url, undefined, FEED);
    assert.equal((await none.closed).code, 4401);
  });

  test("only subscriptions run over WebSocket, and subscriptions never over HTTP; limits apply to both", async () => {
    const u = await register(url);
    const q = await subscribe(url, u.accessToken, "query { me { id } }");
    const [e] = (await q.errors) as { extensions: { code: string; field: string } }[];
    assert.equal(e?.extensions.code, "METHOD_NOT_ALLOWED");
    await q.close();
    const deep = await subscribe(
      url,
      u.accessToken,
      "subscription { feedUpdated { author { posts { edges { node { author { posts { edges { node { author { posts { edges { node { id } } } } } } } } } } } } } }",
    );
    const [d] = (await deep.errors) as { extensions: { code: string } }[];
    assert.equal(d?.extensions.code, "QUERY_TOO_DEEP");
    await deep.close();
    const http = await gql(url, FEED, { token: u.accessToken });
    assert.equal(http.status, 405);
    assert.equal(http.body.errors[0].extensions.code, "METHOD_NOT_ALLOWED");
  });

  test("a slow subscriber is cut off with 4413 while a fast one keeps receiving; memory stays bounded", async () => {
    const [reader, author] = await Promise.all([register(url), register(url)]);
    await act("follow", reader, author.user.id);
    const id = await post(author, "x".repeat(2_000));
    const before = await metricValue(metrics, "nova_realtime_subscriptions");

    // The slow client: speaks the protocol, then stops reading its socket.
    const slow = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws");
    const slowClosed = new Promise<{ code: number; reason: string }>((resolve) =>
      slow.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await new Promise((r) => slow.once("open", r));
    slow.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${reader.accessToken}` } }));
    await new Promise((r) => slow.once("message", r));
    slow.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: BIG } }));
    const fast = await subscribe<{ feedUpdated: { id: string } }>(
      url,
      reader.accessToken,
      "subscription { feedUpdated { id } }",
    );
    await live(before + 2);
    // ws resumes its socket itself whenever its parser drains; hold it paused until the test lets go.
    const raw = (slow as unknown as { _socket: import("node:net").Socket })._socket;
    const resume = raw.resume.bind(raw);
    raw.resume = () => raw;
    raw.pause();

    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const push = JSON.stringify({ kind: "post", postId: id, authorId: author.user.id });
    let published = 0;
    let received = 0;
    const cuts = () => metricValue(metrics, "nova_realtime_closes_total", { reason: "slow_consumer" });
    const cutsBefore = await cuts();
    let cut = false;
    // Bounded: at most 6,000 pushes of 30 KB (180 MB if nothing were cut off), in bursts the fast
    // subscriber takes in before the next.
    while (!cut && published < 6_000) {
      await Promise.all(Array.from({ length: 100 }, () => redis.publish(authorChannel(author.user.id), push)));
      published += 100;
      await until("the fast subscriber to keep up", () => {
        while (fast.buffered.length) {
          fast.buffered.shift();
          received++;
        }
        return received >= published;
      });
      cut = (await cuts()) > cutsBefore;
    }
    assert.ok(cut, `the slow subscriber was not cut off after ${published} pushes`);
    gc?.();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1_048_576;
    // The client reads again: what was sent before the cut, then the close frame with its code.
    raw.resume = resume;
    raw.resume();
    const closed = await slowClosed;
    assert.equal(closed.code, 4413);
    assert.match(closed.reason, /^SLOW_CONSUMER/);
    // What the slow client left behind is bounded by its queue and send buffer (256 pushes, 1 MiB), not by
    // what was published.
    assert.ok(grownMb < 40, `heap grew ${grownMb.toFixed(1)} MB after ${published} pushes`);
    // The fast subscriber was not affected: it got every push (plus, maybe, the post's own event).
    assert.ok(received >= published && received <= published + 1, `${received} of ${published}`);
    process.stderr.write(
      `slow consumer cut after ${published} pushes; fast subscriber got ${received}; heap +${grownMb.toFixed(1)} MB\n`,
    );
    await fast.close();
  });
});
