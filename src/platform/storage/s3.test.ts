/**
 * The S3 BlobStore on the harness's real SeaweedFS (scripts/services/s3.ts): round trips, presigned
 * uploads that sign the declared size and type, expiry, read URLs. Needs the harness: never skipped.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { services } from "../../../test/helpers.ts";
import { type S3BlobStore, s3Store } from "./s3.ts";

let store: S3BlobStore;
let opts: Parameters<typeof s3Store>[0];

before(async () => {
  const s = await services();
  assert.ok(s.s3?.endpoint, "the harness gives an S3 endpoint (scripts/services/s3.ts)");
  opts = {
    endpoint: s.s3.endpoint,
    region: s.s3.region,
    accessKeyId: s.s3.accessKeyId,
    secretAccessKey: s.s3.secretAccessKey,
    forcePathStyle: true,
    bucket: `media-test-${randomBytes(4).toString("hex")}`,
    partSize: 5 * 1024 * 1024,
  };
  store = s3Store(opts);
  await store.ensureBucket();
  await store.ensureBucket(); // twice: a no-op
});

after(async () => {
  if (!store) return;
  const keys: string[] = [];
  for await (const k of store.list("")) keys.push(k);
  await store.delete(keys);
  store.close();
});

async function text(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of r) parts.push(Buffer.from(p as Uint8Array));
  return Buffer.concat(parts);
}

test("put, head, get, stream, list, delete: a round trip; a missing key is undefined, not an error", async () => {
  const body = randomBytes(3000);
  await store.put("m1/original", body, "image/jpeg");
  await store.put("m1/w320.webp", Buffer.from("small"), "image/webp");
  await store.put("m2/original", Readable.from([Buffer.from("streamed "), Buffer.from("bytes")]), "image/png");

  const info = await store.head("m1/original");
  assert.equal(info?.size, 3000);
  assert.equal(info?.contentType, "image/jpeg");
  assert.ok(info?.etag);
  assert.deepEqual(await store.get("m1/original"), body);
  const s = await store.stream("m2/original");
  assert.ok(s);
  assert.equal((await text(s)).toString(), "streamed bytes");
  assert.equal((await store.head("m2/original"))?.contentType, "image/png");

  assert.equal(await store.get("nope"), undefined);
  assert.equal(await store.head("nope"), undefined);
  assert.equal(await store.stream("nope"), undefined);

  const under = async (p: string) => {
    const out: string[] = [];
    for await (const k of store.list(p)) out.push(k);
    return out.sort();
  };
  assert.deepEqual(await under("m1/"), ["m1/original", "m1/w320.webp"]);
  assert.ok((await under("")).includes("m2/original"));

  await store.delete(["m1/original", "m1/w320.webp", "never-there"]);
  assert.deepEqual(await under("m1/"), []);
  assert.equal(await store.head("m1/original"), undefined);
  await store.delete([]);
});

test("a streamed put larger than a part goes up as a multipart upload, bytes intact", async () => {
  const body = randomBytes(11 * 1024 * 1024 + 123);
  // odd-sized pieces, so parts are cut across them
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += 700_001) pieces.push(body.subarray(i, i + 700_001));
  await store.put("big/original", Readable.from(pieces), "video/mp4");
  const info = await store.head("big/original");
  assert.equal(info?.size, body.length);
  assert.equal(info?.contentType, "video/mp4");
  assert.ok((await store.get("big/original"))?.equals(body));
  await store.delete(["big/original"]);
});

test("list follows continuation tokens across pages", async () => {
  const keys = Array.from({ length: 45 }, (_, i) => `many/${String(i).padStart(4, "0")}`);
  await Promise.all(keys.map((k) => store.put(k, Buffer.from("x"), "text/plain")));
  const paged = s3Store({ ...opts, listPageSize: 10 });
  const seen: string[] = [];
  for await (const k of paged.list("many/")) seen.push(k);
  paged.close();
  assert.deepEqual(seen.sort(), keys, "5 pages of at most 10, every key once");
  await store.delete(keys);
  const left: string[] = [];
  for await (const k of store.list("many/")) left.push(k);
  assert.deepEqual(left, []);
});

test("delete takes more keys than one DeleteObjects call (1000)", async () => {
  const keys = Array.from({ length: 1001 }, (_, i) => `del/${String(i).padStart(4, "0")}`);
  await store.put(keys[0] as string, Buffer.from("first"), "text/plain");
  await store.put(keys[1000] as string, Buffer.from("last"), "text/plain");
  await store.delete(keys); // 999 of them were never there
  assert.equal(await store.head(keys[0] as string), undefined);
  assert.equal(await store.head(keys[1000] as string), undefined, "the second batch ran");
});

test("a presigned PUT with the declared size and type is accepted; the bytes read back", async () => {
  const body = randomBytes(1234);
  const up = await store.directUpload("up1/original", "image/png", body.length, 300);
  assert.ok(up);
  assert.equal(up.method, "PUT");
  const signed = new URL(up.url).searchParams.get("X-Amz-SignedHeaders") ?? "";
  assert.deepEqual(signed.split(";").sort(), ["content-length", "content-type", "host"]);
  assert.ok(up.expiresAt.getTime() > Date.now() + 290_000);
  const r = await fetch(up.url, { method: "PUT", headers: up.headers, body });
  assert.equal(r.status, 200, await r.text());
  const info = await store.head("up1/original");
  assert.equal(info?.size, 1234);
  assert.equal(info?.contentType, "image/png");
  assert.ok((await store.get("up1/original"))?.equals(body));
});

test("a presigned PUT with another size, another content type or no content type is refused", async () => {
  const up = await store.directUpload("up2/original", "image/jpeg", 1000, 300);
  assert.ok(up);
  const attempts: [string, Record<string, string>, Buffer][] = [
    ["bigger", { "content-type": "image/jpeg" }, randomBytes(1001)],
    ["smaller", { "content-type": "image/jpeg" }, randomBytes(999)],
    ["empty", { "content-type": "image/jpeg" }, Buffer.alloc(0)],
    ["another type", { "content-type": "image/svg+xml" }, randomBytes(1000)],
    ["no type", {}, randomBytes(1000)],
  ];
  for (const [what, headers, body] of attempts) {
    const r = await fetch(up.url, { method: "PUT", headers, body });
    const xml = await r.text();
    assert.equal(r.status, 403, `${what}: refused (${r.status} ${xml.slice(0, 200)})`);
    assert.match(xml, /SignatureDoesNotMatch|AccessDenied/, what);
  }
  assert.equal(await store.head("up2/original"), undefined, "nothing was stored");
});

test("an expired presigned URL is refused", async () => {
  const up = await store.directUpload("up3/original", "image/webp", 10, 1);
  assert.ok(up);
  await store.put("up3/readable", Buffer.from("hello"), "text/plain");
  const get = await store.readUrl("up3/readable", 1);
  await new Promise((r) => setTimeout(r, 2200));
  const put = await fetch(up.url, { method: "PUT", headers: up.headers, body: randomBytes(10) });
  assert.equal(put.status, 403, await put.text());
  assert.equal(await store.head("up3/original"), undefined);
  const read = await fetch(get);
  assert.equal(read.status, 403, "an expired presigned GET is refused too");
  await read.arrayBuffer();
});

test("readUrl: a presigned GET without a public base URL; base URL + escaped key with one", async () => {
  await store.put("r1/w640.webp", Buffer.from("webp bytes"), "image/webp");
  const url = await store.readUrl("r1/w640.webp", 60);
  assert.match(url, /X-Amz-Signature=/);
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "image/webp");
  assert.equal(await r.text(), "webp bytes");
  const tampered = new URL(url);
  tampered.pathname = tampered.pathname.replace("w640", "w320");
  assert.equal((await fetch(tampered)).status, 403, "the signature covers the key");
  await assert.rejects(store.readUrl("r1/w640.webp", 8 * 24 * 3600), /7 days/);

  const cdn = s3Store({ ...opts, publicBaseUrl: "https://cdn.example.test/media/" });
  assert.equal(await cdn.readUrl("r1/w640.webp", 60), "https://cdn.example.test/media/r1/w640.webp");
  assert.equal(await cdn.readUrl("a b/ü#?.webp", 60), "https://cdn.example.test/media/a%20b/%C3%BC%23%3F.webp");
  cdn.close();
  // a public base URL that is the bucket itself serves the same bytes
  const direct = s3Store({ ...opts, publicBaseUrl: `${opts.endpoint}/${opts.bucket}` });
  const u = await direct.readUrl("r1/w640.webp", 60);
  assert.equal(u, `${opts.endpoint}/${opts.bucket}/r1/w640.webp`);
  direct.close();
});

test("bad arguments are refused before anything is sent", async () => {
  await assert.rejects(store.directUpload("k", "image/png", -1, 60), /byteSize/);
  await assert.rejects(store.directUpload("k", "image/png", 1.5, 60), /byteSize/);
  await assert.rejects(store.directUpload("k", "image/png\r\nx: y", 10, 60), /contentType/);
  await assert.rejects(store.directUpload("k", "image/png", 10, 0), /7 days/);
  assert.throws(() => s3Store({ ...opts, secretAccessKey: undefined }), /both/);
  assert.throws(() => s3Store({ ...opts, partSize: 1024 }), /5 MiB/);
});
