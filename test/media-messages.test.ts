/**
 * Media in messages, embedded mode (the fs store; the gateway serves the files). A group message's
 * media is uploaded with purpose MESSAGE, so its variants live under `<id>/private/` and are served
 * only with a signature that only a member's read of the message obtains: a member fetches them, a
 * non-member and a signed-out client get no URL and a coded 403 with no bytes for the file. The
 * refusals (an encrypted message with media, media of the wrong purpose, of another conversation, of
 * someone else) are coded errors naming the field, and store nothing.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { registry } from "../src/platform/observability/metrics.ts";
import { fsStore } from "../src/platform/storage/fs.ts";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, startInProcess, subscribe, tempDir } from "./helpers.ts";
import { eventually, group, jpegOf, MESSAGES, SEND, type SeenMedia, uploadReady } from "./media-flow.ts";

let nova: Nova;
let url: string;
let origin: string;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  // A small upload budget, for the route's own test (every other user here uploads at most 3 files).
  ({ nova, url } = await startInProcess({ NOVA_DATA_DIR: dataDir, GATEWAY_RATE_USER_UPLOADS: "3" }));
  origin = new URL(url).origin;
});
after(() => nova.stop());

const errorOf = (r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) => ({
  code: r.body.errors?.[0]?.extensions?.code,
  field: r.body.errors?.[0]?.extensions?.field,
});

/** GetMedia calls the gateway has made in this process. */
async function getMediaCalls(): Promise<number> {
  const m = await registry.getSingleMetric("nova_rpc_client_handled_total")?.get();
  return (m?.values ?? [])
    .filter((v) => v.labels.caller === "gateway" && v.labels.method === "GetMedia")
    .reduce((n, v) => n + v.value, 0);
}

async function refusedFile(path: string): Promise<void> {
  const res = await fetch(`${origin}${path}`);
  const body = await res.text();
  assert.equal(res.status, 403, body);
  assert.equal(JSON.parse(body).errors[0].extensions.code, "FORBIDDEN");
  assert.ok(!body.includes("WEBP"), "no bytes of the image");
}

describe("a group message with media", () => {
  test("members read the files through signed URLs; a non-member and a signed-out client cannot", async () => {
    const [alice, bob, carol] = await Promise.all([register(url), register(url), register(url)]);
    const [mediaId, second, third] = await Promise.all(
      [900, 500, 300].map(async (w) => uploadReady(url, alice.accessToken, await jpegOf(w, 300), "MESSAGE")),
    );
    const c = await group(url, alice.accessToken, [bob.user.id]);
    for (const [k, a] of [
      ["m3", [{ mediaId: second }, { mediaId: third }]],
      ["m2", [{ mediaId: third }]],
    ] as const) {
      const r = await gql(url, SEND, { token: alice.accessToken, variables: { c, t: "more", k, a } });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    }
    const sent = await gql(url, SEND, {
      token: alice.accessToken,
      variables: { c, t: "", k: "m1", a: [{ mediaId, alt: "the harbour" }] },
    });
    assert.equal(sent.body.errors, undefined, JSON.stringify(sent.body.errors));
    assert.equal(sent.body.data.sendMessage.media[0].id, mediaId);

    // Bob, a member: the messages' media, hydrated in one GetMedia for the page, with signed URLs that serve the bytes.
    const before = await getMediaCalls();
    const seen = await gql(url, MESSAGES, { token: bob.accessToken, variables: { c } });
    assert.equal(seen.body.errors, undefined, JSON.stringify(seen.body.errors));
    assert.equal((await getMediaCalls()) - before, 1, "one GetMedia for the whole page");
    const edges = seen.body.data.conversation.messages.edges as { node: { media: SeenMedia[] } }[];
    assert.deepEqual(
      edges.map((e) => e.node.media.map((x) => x.id)),
      [[mediaId], [third], [second, third]],
    );
    const [m] = edges[0]?.node.media ?? [];
    assert.equal(m?.alt, "the harbour");
    const w640 = m?.variants.find((v) => v.name === "w640");
    assert.ok(w640);
    assert.match(w640.url, new RegExp(`^/media/${mediaId}/private/w640\\.webp\\?expires=\\d+&signature=`));
    const got = await fetch(`${origin}${w640.url}`);
    assert.equal(got.status, 200);
    assert.match(got.headers.get("cache-control") ?? "", /^private, max-age=\d+$/);
    assert.equal((await sharp(Buffer.from(await got.arrayBuffer())).metadata()).width, 640);

    // Carol, not a member: no conversation, no media by id, and the file refused without a valid signature.
    const hers = await gql(url, MESSAGES, { token: carol.accessToken, variables: { c } });
    assert.equal(hers.body.data?.conversation ?? null, null);
    const byId = await gql(url, `query($id: ID!) { media(id: $id) { id } }`, {
      token: carol.accessToken,
      variables: { id: mediaId },
    });
    assert.equal(byId.body.data?.media, null);
    const path = w640.url.split("?")[0] as string;
    await refusedFile(path);
    await refusedFile(`${path}?expires=9999999999&signature=${"A".repeat(43)}`);
    await refusedFile(w640.url.replace(/expires=\d+/, "expires=9999999999"));
    // The public name of the same variant does not exist.
    assert.equal((await fetch(`${origin}/media/${mediaId}/w640.webp`)).status, 404);

    // Signed out: no media by id (UNAUTHENTICATED) and the file refused.
    const anon = await gql(url, `query($id: ID!) { media(id: $id) { id } }`, { variables: { id: mediaId } });
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
    await refusedFile(path);

    // The owner sees their own media by id, its URLs signed too.
    const own = await gql(url, `query($id: ID!) { media(id: $id) { variants { url } } }`, {
      token: alice.accessToken,
      variables: { id: mediaId },
    });
    assert.match(own.body.data.media.variants[0].url, /signature=/);
  });

  test("refused, storing nothing: encrypted with media, wrong purpose, another conversation, someone else's, 11 items", async () => {
    const [alice, bob, carol] = await Promise.all([register(url), register(url), register(url)]);
    const jpeg = await jpegOf(400, 300);
    const [forMessage, forPost, bobs] = await Promise.all([
      uploadReady(url, alice.accessToken, jpeg, "MESSAGE"),
      uploadReady(url, alice.accessToken, jpeg, "POST"),
      uploadReady(url, bob.accessToken, jpeg, "MESSAGE"),
    ]);
    const c = await group(url, alice.accessToken, [bob.user.id]);
    const other = await group(url, alice.accessToken, [carol.user.id]);
    const send = (conv: string, k: string, a: { mediaId: string }[], extra: Record<string, string> = {}) =>
      gql(url, SEND, { token: alice.accessToken, variables: { c: conv, t: "", k, a, ...extra } });

    const encrypted = await send(c, "e", [{ mediaId: forMessage }], { x: "AAAA", key: randomUUID() });
    assert.deepEqual(errorOf(encrypted), { code: "BAD_USER_INPUT", field: "attachments" });
    assert.deepEqual(errorOf(await send(c, "p", [{ mediaId: forPost }])), {
      code: "MEDIA_WRONG_PURPOSE",
      field: "attachments[0].mediaId",
    });
    assert.deepEqual(errorOf(await send(c, "b", [{ mediaId: forMessage }, { mediaId: bobs }])), {
      code: "FORBIDDEN",
      field: "attachments[1].mediaId",
    });
    const many = Array.from({ length: 11 }, () => ({ mediaId: randomUUID() }));
    assert.deepEqual(errorOf(await send(c, "n", many)), { code: "BAD_USER_INPUT", field: "attachments" });
    const post = await gql(url, `mutation($input: CreatePostInput!) { createPost(input: $input) { id } }`, {
      token: alice.accessToken,
      variables: { input: { text: "", attachments: [{ mediaId: forMessage }] } },
    });
    assert.deepEqual(errorOf(post), { code: "MEDIA_WRONG_PURPOSE", field: "attachments[0].mediaId" });
    // Nothing was stored by the refusals.
    const none = await gql(url, MESSAGES, { token: alice.accessToken, variables: { c } });
    assert.deepEqual(none.body.data.conversation.messages.edges, []);

    // Sent in one conversation, the media is bound to it: another conversation is refused, a resend is not.
    assert.equal((await send(c, "ok", [{ mediaId: forMessage }])).body.errors, undefined);
    assert.equal((await send(c, "ok", [{ mediaId: forMessage }])).body.errors, undefined);
    assert.deepEqual(errorOf(await send(other, "x", [{ mediaId: forMessage }])), {
      code: "MEDIA_ALREADY_ATTACHED",
      field: "attachments[0].mediaId",
    });
    const elsewhere = await gql(url, MESSAGES, { token: carol.accessToken, variables: { c: other } });
    assert.deepEqual(elsewhere.body.data.conversation.messages.edges, []);
  });
});

test("messageReceived pushes the message with its media, signed for the member", async () => {
  const [alice, bob] = await Promise.all([register(url), register(url)]);
  const mediaId = await uploadReady(url, alice.accessToken, await jpegOf(700, 400), "MESSAGE");
  const c = await group(url, alice.accessToken, [bob.user.id]);
  const gauge = async () =>
    ((await registry.getSingleMetric("nova_realtime_subscriptions")?.get())?.values ?? []).reduce(
      (n, v) => n + v.value,
      0,
    );
  const before = await gauge();
  type Push = { messageReceived: { id: string; media: SeenMedia[] } };
  const toBob = await subscribe<Push>(
    url,
    bob.accessToken,
    "subscription($c: ID) { messageReceived(conversationId: $c) { id media { id alt variants { name url width } } } }",
    { c },
  );
  try {
    await eventually("the subscription is live", async () => ((await gauge()) > before ? true : undefined));
    const sent = await gql(url, SEND, {
      token: alice.accessToken,
      variables: { c, t: "", k: "p", a: [{ mediaId, alt: "x" }] },
    });
    assert.equal(sent.body.errors, undefined, JSON.stringify(sent.body.errors));
    const pushed = (await toBob.next(30_000)).messageReceived;
    assert.equal(pushed.id, sent.body.data.sendMessage.id);
    const v = pushed.media[0]?.variants.find((x) => x.name === "w640");
    assert.ok(v, JSON.stringify(pushed));
    assert.equal((await fetch(`${origin}${v.url}`)).status, 200);
  } finally {
    await toBob.close();
  }
});

test("the upload route's per-user budget: past it 429 RATE_LIMITED with Retry-After, nothing stored", async () => {
  const [alice, bob] = await Promise.all([register(url), register(url)]);
  const jpeg = await jpegOf(64, 64);
  const put = (token: string, id: string) =>
    fetch(`${origin}/media/upload/${id}`, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "image/jpeg",
        "content-length": String(jpeg.length),
      },
      body: jpeg,
    });
  // Refused PUTs spend the budget too (each costs the gateway a backend call).
  for (let i = 0; i < 3; i++) assert.equal((await put(alice.accessToken, randomUUID())).status, 404);
  const created = await gql(
    url,
    `mutation($input: CreateUploadInput!) { createUpload(input: $input) { media { id } } }`,
    {
      token: alice.accessToken,
      variables: { input: { kind: "IMAGE", contentType: "image/jpeg", byteSize: jpeg.length } },
    },
  );
  const id = created.body.data.createUpload.media.id as string;
  const refused = await put(alice.accessToken, id);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.equal(
    ((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    "RATE_LIMITED",
  );
  assert.equal(existsSync(join(dataDir, "media", id)), false, "nothing stored");
  // Another user's budget is their own.
  assert.equal((await put(bob.accessToken, randomUUID())).status, 404);
});

test("fs signed URLs: the signature covers the key and the expiry, and an expired one is refused", async () => {
  const store = fsStore({ root: tempDir(), signingKey: Buffer.alloc(32, 7) });
  const key = `${randomUUID()}/private/w640.webp`;
  const u = new URL(await store.signedUrl(key, 60), "http://x");
  const expires = u.searchParams.get("expires") as string;
  const signature = u.searchParams.get("signature") as string;
  assert.equal(store.verifySigned(key, expires, signature), true);
  assert.equal(store.verifySigned(key.replace("w640", "w320"), expires, signature), false);
  assert.equal(store.verifySigned(key, String(Number(expires) + 1), signature), false);
  const other = fsStore({ root: tempDir(), signingKey: Buffer.alloc(32, 8) });
  assert.equal(other.verifySigned(key, expires, signature), false);
  // A signature made for an expiry already past.
  const past = fsStore({ root: tempDir(), signingKey: Buffer.alloc(32, 7) });
  const old = new URL(await past.signedUrl(key, 1), "http://x");
  const then = String(Number(old.searchParams.get("expires")) - 5);
  assert.equal(past.verifySigned(key, then, old.searchParams.get("signature") as string), false);
});
