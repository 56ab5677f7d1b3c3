/**
 * Media on the object store (the harness's SeaweedFS through the S3 API), as distributed mode
 * stores it: createUpload answers a presigned PUT straight to the bucket (the gateway never sees
 * the bytes), completeUpload reads them back from the store, the consumer writes the variants
 * there, and the variants are read through presigned GETs. The bucket is listed to show what is
 * kept: the variants, not the raw upload.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import sharp from "sharp";
import { s3Store } from "../src/platform/storage/s3.ts";
import type { Nova } from "../src/runtime/app.ts";
import { checkOrphans, purgeUnattached } from "../src/services/media/purge.ts";
import type { MediaTables } from "../src/services/media/queries.ts";
import { gql, register, services, startInProcess } from "./helpers.ts";
import { group, jpegOf, MESSAGES, SEND, type SeenMedia, uploadReady, uuidv7At } from "./media-flow.ts";

const bucket = `nova-media-test-${randomBytes(4).toString("hex")}`;
let nova: Nova;
let url: string;
let s3: Awaited<ReturnType<typeof services>>["s3"];

before(async () => {
  s3 = (await services()).s3;
  ({ nova, url } = await startInProcess({
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  }));
});
after(() => nova.stop());

async function listBucket(): Promise<string[]> {
  const store = s3Store({ ...s3, bucket, forcePathStyle: true });
  const keys: string[] = [];
  for await (const k of store.list("")) keys.push(k);
  store.close();
  return keys.sort();
}

test("S3: a presigned PUT straight to the bucket, processed from it, variants read through presigned GETs", async () => {
  const alice = await register(url);
  const jpeg = await sharp({ create: { width: 1200, height: 800, channels: 3, background: "#aa3366" } })
    .jpeg()
    .toBuffer();
  const created = await gql(
    url,
    `mutation($input: CreateUploadInput!) { createUpload(input: $input) { media { id state } upload { url method headers { name value } } } }`,
    {
      token: alice.accessToken,
      variables: { input: { kind: "IMAGE", contentType: "image/jpeg", byteSize: jpeg.length } },
    },
  );
  assert.equal(created.body.errors, undefined, JSON.stringify(created.body.errors));
  const { media, upload } = created.body.data.createUpload;
  assert.ok(upload.url.startsWith(`${s3.endpoint}/${bucket}/`), `a presigned URL on the store: ${upload.url}`);
  assert.match(
    upload.url,
    /X-Amz-SignedHeaders=content-length%3Bcontent-type/,
    "the size and type are signed (a PUT of another is refused: platform/storage/s3.test.ts)",
  );
  const headers = Object.fromEntries(upload.headers.map((h: { name: string; value: string }) => [h.name, h.value]));
  const sent = await fetch(upload.url, { method: "PUT", headers, body: jpeg });
  assert.equal(sent.status, 200, await sent.text());

  const done = await gql(url, `mutation($id: ID!) { completeUpload(id: $id) { id state } }`, {
    token: alice.accessToken,
    variables: { id: media.id },
  });
  assert.equal(done.body.errors, undefined, JSON.stringify(done.body.errors));
  let ready: { state: string; variants: { name: string; url: string; width: number }[] } | undefined;
  for (let i = 0; i < 600 && ready?.state !== "READY"; i++) {
    const r = await gql(url, `query($id: ID!) { media(id: $id) { state rejectReason variants { name url width } } }`, {
      token: alice.accessToken,
      variables: { id: media.id },
    });
    ready = r.body.data.media;
    assert.notEqual(ready?.state, "REJECTED", JSON.stringify(ready));
    if (ready?.state !== "READY") await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ready?.state, "READY");
  const names = ready?.variants.map((v) => v.name);
  assert.deepEqual(names, ["w320", "w640", "w1080", "original"]);
  for (const v of ready?.variants ?? []) {
    assert.match(v.url, /X-Amz-Signature=/, "a presigned GET");
    const got = await fetch(v.url);
    assert.equal(got.status, 200);
    const meta = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
    assert.equal(meta.format, "webp");
    assert.equal(meta.width, v.width);
  }
  const keys = await listBucket();
  assert.equal(keys.length, 4, `the variants only, the raw upload deleted: ${keys.join(", ")}`);
  assert.ok(keys.every((k) => k.startsWith(`${media.id}/`)));
});

test("S3: a group message's media: presigned GETs for a member only, the bucket refuses an unsigned read", async () => {
  const [alice, bob, carol] = await Promise.all([register(url), register(url), register(url)]);
  const mediaId = await uploadReady(url, alice.accessToken, await jpegOf(700, 500), "MESSAGE");
  const c = await group(url, alice.accessToken, [bob.user.id]);
  const sent = await gql(url, SEND, { token: alice.accessToken, variables: { c, t: "", k: "m", a: [{ mediaId }] } });
  assert.equal(sent.body.errors, undefined, JSON.stringify(sent.body.errors));

  const seen = await gql(url, MESSAGES, { token: bob.accessToken, variables: { c } });
  const [m] = seen.body.data.conversation.messages.edges[0].node.media as SeenMedia[];
  const w640 = m?.variants.find((v) => v.name === "w640");
  assert.ok(w640);
  assert.ok(w640.url.startsWith(`${s3.endpoint}/${bucket}/${mediaId}/private/w640.webp?`), w640.url);
  assert.match(w640.url, /X-Amz-Expires=900&/, "short-lived");
  const got = await fetch(w640.url);
  assert.equal(got.status, 200);
  assert.equal((await sharp(Buffer.from(await got.arrayBuffer())).metadata()).width, 640);

  // Carol gets no URL at all, and the object itself is not readable without a signature.
  const hers = await gql(url, MESSAGES, { token: carol.accessToken, variables: { c } });
  assert.equal(hers.body.data?.conversation ?? null, null);
  const byId = await gql(url, `query($id: ID!) { media(id: $id) { id } }`, {
    token: carol.accessToken,
    variables: { id: mediaId },
  });
  assert.equal(byId.body.data?.media, null);
  const unsigned = await fetch(w640.url.split("?")[0] as string);
  assert.equal(unsigned.status, 403);
  const anon = await gql(url, `query($id: ID!) { media(id: $id) { id } }`, { variables: { id: mediaId } });
  assert.equal(anon.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");

  const keys = (await listBucket()).filter((k) => k.startsWith(`${mediaId}/`));
  assert.ok(
    keys.length > 0 && keys.every((k) => k.startsWith(`${mediaId}/private/`)),
    `under private/ only: ${keys.join(", ")}`,
  );
});

test("S3: unattached READY media is purged after 24 hours and the orphan check works on the bucket (listed)", async () => {
  const pool = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
  const db = new Kysely<MediaTables>({ dialect: new PostgresDialect({ pool }) });
  const store = s3Store({ ...s3, bucket, forcePathStyle: true });
  try {
    const alice = await register(url);
    const [lonely, used, broken] = [
      await uploadReady(url, alice.accessToken, await jpegOf(500, 400), "POST"),
      await uploadReady(url, alice.accessToken, await jpegOf(500, 400), "POST"),
      await uploadReady(url, alice.accessToken, await jpegOf(500, 400), "POST"),
    ];
    const post = await gql(url, `mutation($input: CreatePostInput!) { createPost(input: $input) { id } }`, {
      token: alice.accessToken,
      variables: { input: { text: "kept", attachments: [{ mediaId: used }] } },
    });
    assert.equal(post.body.errors, undefined, JSON.stringify(post.body.errors));
    await sql`UPDATE media.media SET updated_at = now() - interval '25 hours' WHERE id = ANY(${[lonely, used]}::uuid[])`.execute(
      db,
    );
    const purged = await purgeUnattached(db, store, 86_400_000);
    assert.ok(purged.includes(lonely) && !purged.includes(used));
    let keys = await listBucket();
    assert.ok(!keys.some((k) => k.startsWith(`${lonely}/`)), "no blob of the purged media left in the bucket");
    assert.ok(
      keys.some((k) => k.startsWith(`${used}/`)),
      "the post's media stays",
    );

    // Orphans: a blob under a three-day-old media id with no row goes, a young one stays; a missing variant is reported.
    const old = uuidv7At(Date.now() - 3 * 86_400_000);
    const young = uuidv7At(Date.now());
    await store.put(`${old}/w640.webp`, Buffer.from("x"), "image/webp");
    await store.put(`${young}/upload`, Buffer.from("x"), "image/jpeg");
    await store.delete([`${broken}/w320.webp`]);
    const report = await checkOrphans(db, store, 86_400_000);
    assert.deepEqual(report.deleted, [`${old}/w640.webp`]);
    assert.ok(report.missing.includes(broken) && !report.missing.includes(used));
    keys = await listBucket();
    assert.ok(!keys.some((k) => k.startsWith(`${old}/`)));
    assert.ok(keys.includes(`${young}/upload`), "an upload younger than the grace period is never touched");
  } finally {
    store.close();
    await db.destroy();
  }
});
