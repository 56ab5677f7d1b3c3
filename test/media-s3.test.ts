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
import sharp from "sharp";
import { s3Store } from "../src/platform/storage/s3.ts";
import type { Nova } from "../src/runtime/app.ts";
import { gql, register, services, startInProcess } from "./helpers.ts";

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
