/**
 * Media end to end in embedded mode (every module in this process, the fs store under the data
 * dir): createUpload over GraphQL, the bytes PUT to the gateway's upload route with the bearer
 * token, completeUpload, processing by the media consumer through the embedded log, then the
 * variants served with immutable caching and ETags. The upload route's refusals are coded errors
 * naming the field, and nothing they refuse is stored.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import sharp from "sharp";
import { Database } from "../src/platform/db/pool.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import type { Nova } from "../src/runtime/app.ts";
import { purgeDeleted } from "../src/services/content/purge.ts";
import type { ContentTables } from "../src/services/content/queries.ts";
import { gql, register, services, startInProcess, tempDir } from "./helpers.ts";

const CREATE = `mutation($input: CreateUploadInput!) {
  createUpload(input: $input) { media { id kind state } upload { url method headers { name value } expiresAt } }
}`;
const COMPLETE = `mutation($id: ID!) { completeUpload(id: $id) { id state } }`;
const MEDIA = `query($id: ID!) { media(id: $id) {
  id kind state width height blurhash animated duration rejectReason rejectField url mimeType
  variants { name url width height contentType }
} }`;

let nova: Nova;
let url: string;
let origin: string;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  ({ nova, url } = await startInProcess({ NOVA_DATA_DIR: dataDir }));
  origin = new URL(url).origin;
});
after(() => nova.stop());

async function eventually<T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what}`);
}

async function declare(token: string, contentType: string, byteSize: number, kind = "IMAGE") {
  const r = await gql(url, CREATE, { token, variables: { input: { kind, contentType, byteSize } } });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.createUpload as {
    media: { id: string; state: string };
    upload: { url: string; method: string; headers: { name: string; value: string }[] };
  };
}

function put(token: string | undefined, path: string, body: Buffer, headers: Record<string, string>) {
  return fetch(`${origin}${path}`, {
    method: "PUT",
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body,
    duplex: "half",
  } as RequestInit);
}

/** Every file under the media folder that belongs to `id`. */
const filesOf = (id: string) => {
  try {
    return readdirSync(join(dataDir, "media", id));
  } catch {
    return [];
  }
};

describe("embedded upload → processed → served", () => {
  test("a JPEG goes through, its variants are served immutable with ETags", async () => {
    const alice = await register(url);
    const jpeg = await sharp({ create: { width: 1400, height: 700, channels: 3, background: "#3366aa" } })
      .jpeg()
      .withExif({ IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1" } })
      .toBuffer();
    const { media, upload } = await declare(alice.accessToken, "image/jpeg", jpeg.length);
    assert.equal(media.state, "PENDING");
    assert.equal(upload.method, "PUT");
    assert.equal(upload.url, `/media/upload/${media.id}`);
    const headers = Object.fromEntries(upload.headers.map((h) => [h.name, h.value]));
    assert.deepEqual(headers, { "content-type": "image/jpeg", "content-length": String(jpeg.length) });

    const res = await put(alice.accessToken, upload.url, jpeg, headers);
    assert.equal(res.status, 204, await res.text());
    const done = await gql(url, COMPLETE, { token: alice.accessToken, variables: { id: media.id } });
    assert.equal(done.body.data?.completeUpload?.state, "UPLOADED", JSON.stringify(done.body));

    const ready = await eventually("READY", async () => {
      const r = await gql(url, MEDIA, { token: alice.accessToken, variables: { id: media.id } });
      const m = r.body.data?.media;
      return m?.state === "READY" || m?.state === "REJECTED" ? m : undefined;
    });
    assert.equal(ready.state, "READY", JSON.stringify(ready));
    assert.equal(ready.width, 1400);
    assert.equal(ready.height, 700);
    assert.ok(ready.blurhash);
    assert.equal(ready.mimeType, "image/webp");
    assert.deepEqual(
      ready.variants.map((v: { name: string; width: number }) => [v.name, v.width]),
      [
        ["w320", 320],
        ["w640", 640],
        ["w1080", 1080],
        ["original", 1400],
      ],
    );
    assert.equal(ready.url, ready.variants[3].url);

    const w640 = ready.variants[1];
    const got = await fetch(`${origin}${w640.url}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(got.headers.get("content-type"), "image/webp");
    const etag = got.headers.get("etag");
    assert.ok(etag);
    const meta = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
    assert.equal(meta.width, 640);
    assert.equal(meta.exif, undefined);
    const again = await fetch(`${origin}${w640.url}`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    // The raw upload is never served (and is gone once processed), nor is anything outside the variants.
    assert.equal((await fetch(`${origin}/media/${media.id}/upload`)).status, 404);
    assert.equal((await fetch(`${origin}/media/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    await eventually("the raw upload deleted", async () => (filesOf(media.id).includes("upload") ? undefined : true));

    // Completing twice is a coded error naming the field.
    const twice = await gql(url, COMPLETE, { token: alice.accessToken, variables: { id: media.id } });
    assert.equal(twice.body.errors?.[0]?.extensions?.code, "MEDIA_ALREADY_COMPLETED");
    assert.equal(twice.body.errors?.[0]?.extensions?.field, "id");
  });

  test("a short MP4 goes through as VIDEO; its clip is served with byte ranges, its poster as WebP", async () => {
    const alice = await register(url);
    const file = join(tempDir("nova-clip-"), "clip.mp4");
    const pattern = ["-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=25"];
    await promisify(execFile)("ffmpeg", ["-v", "error", ...pattern, "-c:v", "libx264", "-pix_fmt", "yuv420p", file]);
    const mp4 = readFileSync(file);
    const { media, upload } = await declare(alice.accessToken, "video/mp4", mp4.length, "VIDEO");
    const headers = Object.fromEntries(upload.headers.map((h) => [h.name, h.value]));
    assert.equal((await put(alice.accessToken, upload.url, mp4, headers)).status, 204);
    const done = await gql(url, COMPLETE, { token: alice.accessToken, variables: { id: media.id } });
    assert.equal(done.body.data?.completeUpload?.state, "UPLOADED", JSON.stringify(done.body));
    const ready = await eventually("READY", async () => {
      const m = (await gql(url, MEDIA, { token: alice.accessToken, variables: { id: media.id } })).body.data?.media;
      return m?.state === "READY" || m?.state === "REJECTED" ? m : undefined;
    });
    assert.equal(ready.state, "READY", JSON.stringify(ready));
    assert.equal(ready.kind, "VIDEO");
    assert.equal(ready.duration, 1);
    const names = ready.variants.map((v: { name: string; contentType: string }) => [v.name, v.contentType]);
    assert.deepEqual(names, [
      ["original", "image/webp"],
      ["video", "video/mp4"],
    ]);
    const clipUrl = `${origin}${ready.variants[1].url}`;
    const whole = await fetch(clipUrl);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get("accept-ranges"), "bytes");
    assert.equal(whole.headers.get("content-type"), "video/mp4");
    const bytes = Buffer.from(await whole.arrayBuffer());
    const part = await fetch(clipUrl, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 100-199/${bytes.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 200));
    const tail = await fetch(clipUrl, { headers: { range: "bytes=-10" } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 10));
    const past = await fetch(clipUrl, { headers: { range: `bytes=${bytes.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), `bytes */${bytes.length}`);
  });
});
describe("the upload route refuses, storing nothing", () => {
  test("no token, someone else's upload, wrong type, wrong or missing length, more bytes, already completed", async () => {
    const alice = await register(url);
    const bob = await register(url);
    const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: "#000" } })
      .png()
      .toBuffer();
    const { media, upload } = await declare(alice.accessToken, "image/png", png.length);
    const ok = { "content-type": "image/png", "content-length": String(png.length) };
    const expect = async (res: Response, status: number, code: string, field?: string) => {
      const body = (await res.json()) as { errors: { extensions: { code: string; field?: string } }[] };
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(body.errors[0]?.extensions.code, code);
      if (field) assert.equal(body.errors[0]?.extensions.field, field);
    };
    await expect(await put(undefined, upload.url, png, ok), 401, "UNAUTHENTICATED");
    await expect(await put("not-a-token", upload.url, png, ok), 401, "TOKEN_INVALID");
    await expect(await put(bob.accessToken, upload.url, png, ok), 404, "NOT_FOUND", "id");
    await expect(
      await put(alice.accessToken, upload.url, png, { ...ok, "content-type": "image/jpeg" }),
      415,
      "MEDIA_TYPE_MISMATCH",
      "contentType",
    );
    await expect(
      await put(alice.accessToken, upload.url, png.subarray(0, 10), { "content-type": "image/png" }),
      400,
      "MEDIA_SIZE_MISMATCH",
      "byteSize",
    );
    await expect(await put(alice.accessToken, `/media/upload/${crypto.randomUUID()}`, png, ok), 404, "NOT_FOUND", "id");
    assert.deepEqual(filesOf(media.id), []);

    // Then the right bytes, completed; a second PUT is refused.
    assert.equal((await put(alice.accessToken, upload.url, png, ok)).status, 204);
    const done = await gql(url, COMPLETE, { token: alice.accessToken, variables: { id: media.id } });
    assert.equal(done.body.errors, undefined);
    await expect(await put(alice.accessToken, upload.url, png, ok), 409, "MEDIA_ALREADY_COMPLETED", "id");
    // Bob cannot complete or see Alice's upload until it is ready.
    const bobs = await gql(url, COMPLETE, { token: bob.accessToken, variables: { id: media.id } });
    assert.equal(bobs.body.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });

  test("a body above the media size limit, and GraphQL's coded errors for createUpload", async () => {
    const alice = await register(url);
    const big = await gql(url, CREATE, {
      token: alice.accessToken,
      variables: { input: { kind: "IMAGE", contentType: "image/png", byteSize: 200 * 1024 * 1024 } },
    });
    assert.equal(big.body.errors?.[0]?.extensions?.code, "MEDIA_TOO_LARGE");
    assert.equal(big.body.errors?.[0]?.extensions?.field, "byteSize");
    const svg = await gql(url, CREATE, {
      token: alice.accessToken,
      variables: { input: { kind: "IMAGE", contentType: "image/svg+xml", byteSize: 10 } },
    });
    assert.equal(svg.body.errors?.[0]?.extensions?.code, "MEDIA_TYPE_UNSUPPORTED");
    assert.equal(svg.body.errors?.[0]?.extensions?.field, "contentType");
    const anon = await gql(url, CREATE, {
      variables: { input: { kind: "IMAGE", contentType: "image/png", byteSize: 10 } },
    });
    assert.equal(anon.body.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");

    // A Content-Length above the route's limit (the larger of the image and video limits: 50 MB) is
    // refused before any byte is read.
    const { upload } = await declare(alice.accessToken, "image/png", 100);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${origin}${upload.url}`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${alice.accessToken}`,
          "content-type": "image/png",
          "content-length": String(51 * 1024 * 1024),
        },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.write(Buffer.alloc(16));
    });
    assert.equal(status, 413);
  });
});

describe("posts with uploaded media", () => {
  /** An uploaded, processed image of `token`'s user: its media id. */
  async function readyImage(token: string, width: number): Promise<string> {
    const png = await sharp({ create: { width, height: 300, channels: 3, background: "#884422" } })
      .png()
      .toBuffer();
    const { media, upload } = await declare(token, "image/png", png.length);
    const headers = Object.fromEntries(upload.headers.map((h) => [h.name, h.value]));
    assert.equal((await put(token, upload.url, png, headers)).status, 204);
    await gql(url, COMPLETE, { token, variables: { id: media.id } });
    await eventually("READY", async () => {
      const r = await gql(url, MEDIA, { token, variables: { id: media.id } });
      return r.body.data?.media?.state === "READY" ? true : undefined;
    });
    return media.id;
  }

  const CREATE_POST = `mutation($input: CreatePostInput!) { createPost(input: $input) { id sensitive
    media { id state alt width height blurhash variants { name width } } } }`;

  test("a carousel: the author's own processed media, in order, with alt texts, hydrated", async () => {
    const alice = await register(url);
    const bob = await register(url);
    const [a, b] = [await readyImage(alice.accessToken, 800), await readyImage(alice.accessToken, 400)];
    const r = await gql(url, CREATE_POST, {
      token: alice.accessToken,
      variables: {
        input: { text: "two #photos", sensitive: true, attachments: [{ mediaId: b, alt: "small" }, { mediaId: a }] },
      },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const post = r.body.data.createPost;
    assert.equal(post.sensitive, true);
    assert.deepEqual(
      post.media.map((m: { id: string; alt: string | null; width: number; state: string }) => [
        m.id,
        m.alt,
        m.width,
        m.state,
      ]),
      [
        [b, "small", 400, "READY"],
        [a, null, 800, "READY"],
      ],
    );
    // Bob reads it hydrated the same way.
    const seen = await gql(url, `query($id: ID!) { post(id: $id) { media { id variants { name } } } }`, {
      token: bob.accessToken,
      variables: { id: post.id },
    });
    assert.deepEqual(
      seen.body.data.post.media.map((m: { id: string }) => m.id),
      [b, a],
    );
    // Bob cannot put Alice's media in his post.
    const stolen = await gql(url, CREATE_POST, {
      token: bob.accessToken,
      variables: { input: { text: "mine now", attachments: [{ mediaId: a }] } },
    });
    assert.equal(stolen.body.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.equal(stolen.body.errors?.[0]?.extensions?.field, "attachments[0].mediaId");
  });

  test("a follower's feed shows the carousel hydrated", async () => {
    const [alice, bob] = [await register(url), await register(url)];
    const f = await gql(url, `mutation($id: ID!) { follow(userId: $id) { id } }`, {
      token: bob.accessToken,
      variables: { id: alice.user.id },
    });
    assert.equal(f.body.errors, undefined, JSON.stringify(f.body.errors));
    const FEED = `{ feed(first: 10) { edges { node { id sensitive media { id alt width variants { name width } } } } } }`;
    // Bob reads his feed: an active reader, so fan-out writes into his timeline.
    assert.equal((await gql(url, FEED, { token: bob.accessToken })).body.errors, undefined);
    const ids = [await readyImage(alice.accessToken, 600), await readyImage(alice.accessToken, 300)];
    const r = await gql(url, CREATE_POST, {
      token: alice.accessToken,
      variables: { input: { text: "carousel", attachments: ids.map((mediaId) => ({ mediaId, alt: "x" })) } },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const postId = r.body.data.createPost.id;
    const node = await eventually("the post in bob's feed", async () => {
      const feed = await gql(url, FEED, { token: bob.accessToken });
      return feed.body.data?.feed?.edges?.find((e: { node: { id: string } }) => e.node.id === postId)?.node;
    });
    assert.deepEqual(
      node.media.map((m: { id: string; alt: string; width: number }) => [m.id, m.alt, m.width]),
      [
        [ids[0], "x", 600],
        [ids[1], "x", 300],
      ],
    );
    assert.equal(node.sensitive, false);
  });

  test("a purged post takes its media with it: rows gone, no blob left in the folder", async () => {
    const alice = await register(url);
    const [kept, carried] = [await readyImage(alice.accessToken, 300), await readyImage(alice.accessToken, 200)];
    const r = await gql(url, CREATE_POST, {
      token: alice.accessToken,
      variables: { input: { text: "short-lived", attachments: [{ mediaId: carried }] } },
    });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const postId = r.body.data.createPost.id;
    assert.ok(filesOf(carried).length > 0, "the variants are stored");
    const del = await gql(url, "mutation($id: ID!) { deletePost(id: $id) }", {
      token: alice.accessToken,
      variables: { id: postId },
    });
    assert.equal(del.body.errors, undefined, JSON.stringify(del.body.errors));
    // The retention passed: the purge job hard-deletes it and writes PostPurged with its media.
    const database = new Database({
      writerUrl: (await services()).postgres,
      poolMax: 1,
      applicationName: "media-test",
    });
    try {
      await database.writerPool.query(
        "UPDATE content.posts SET deleted_at = now() - interval '31 days' WHERE id = $1",
        [postId],
      );
      const outbox = createOutbox({ service: "content", schema: "content" });
      assert.ok((await purgeDeleted(database.kysely<ContentTables>().writer, outbox, 30 * 86_400_000)) >= 1);
    } finally {
      await database.close();
    }
    await eventually("the media erased with the post", async () => {
      const m = await gql(url, MEDIA, { token: alice.accessToken, variables: { id: carried } });
      return m.body.data.media === null && filesOf(carried).length === 0 ? true : undefined;
    });
    const other = await gql(url, MEDIA, { token: alice.accessToken, variables: { id: kept } });
    assert.equal(other.body.data.media.state, "READY", "media the post did not carry stay");
    assert.ok(filesOf(kept).length > 0);
  });

  test("media still processing, and alt text too long, are refused naming the item", async () => {
    const alice = await register(url);
    const { media } = await declare(alice.accessToken, "image/png", 100);
    const pending = await gql(url, CREATE_POST, {
      token: alice.accessToken,
      variables: { input: { text: "soon", attachments: [{ mediaId: media.id }] } },
    });
    assert.equal(pending.body.errors?.[0]?.extensions?.code, "MEDIA_NOT_READY");
    assert.equal(pending.body.errors?.[0]?.extensions?.field, "attachments[0].mediaId");
    const ready = await readyImage(alice.accessToken, 200);
    const long = await gql(url, CREATE_POST, {
      token: alice.accessToken,
      variables: { input: { text: "alt", attachments: [{ mediaId: ready, alt: "x".repeat(1_501) }] } },
    });
    assert.equal(long.body.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.equal(long.body.errors?.[0]?.extensions?.field, "attachments[0].alt");
  });
});
