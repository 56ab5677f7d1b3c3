/**
 * The media service's handlers and its processing consumer on real PostgreSQL (the harness's
 * database) and the fs store in a temporary folder, called directly as signed-in users. Every
 * image is made at test time with sharp (or by hand, byte by byte, for what sharp will not write:
 * a decompression bomb, a truncated JPEG, a polyglot, a HEIC header). The bytes are put where the
 * gateway's upload route puts them; the consumer is fed the outbox's rows as the log would.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { crc32, deflateSync } from "node:zlib";
import { create } from "@bufbuild/protobuf";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import pino from "pino";
import sharp from "sharp";
import { services, tempDir } from "../../../test/helpers.ts";
import { eventually, uuidv7At } from "../../../test/media-flow.ts";
import {
  AttachMediaRequestSchema,
  CompleteUploadRequestSchema,
  CreateUploadRequestSchema,
  GetMediaRequestSchema,
  type Media,
} from "../../gen/nova/media/v1/media_pb.ts";
import { createCache } from "../../platform/cache/cache.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { NovaError } from "../../platform/errors.ts";
import { applyOnce } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { createOutbox } from "../../platform/events/outbox.ts";
import { eventTables } from "../../platform/events/sets.ts";
import { registry } from "../../platform/observability/metrics.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import type { BlobStore } from "../../platform/storage/blobs.ts";
import { fsStore, validKey } from "../../platform/storage/fs.ts";
import { uuidv7 } from "../../platform/validate.ts";
import { POST_EVENTS } from "../content/events.ts";
import { postPurgeConsumer, processingConsumer } from "./consumers.ts";
import { type MediaContext, READY_MEDIA_CODEC, type ReadyMedia, uploadKey } from "./context.ts";
import { Semaphore } from "./process.ts";
import { checkOrphans, purgeStale, purgeUnattached } from "./purge.ts";
import { type MediaTables, unfinishedClaims } from "./queries.ts";
import { attachMedia } from "./rpc/attachMedia.ts";
import { completeUpload } from "./rpc/completeUpload.ts";
import { createUpload } from "./rpc/createUpload.ts";
import { getMedia } from "./rpc/getMedia.ts";
import { videoTools } from "./video.ts";

const pool = new pg.Pool({ connectionString: (await services()).postgres, max: 3 });
const db = new Kysely<MediaTables>({ dialect: new PostgresDialect({ pool }) });
const root = tempDir("nova-media-");
const store: BlobStore = fsStore({ root });
const ctx: MediaContext = {
  writer: db,
  reader: db,
  outbox: createOutbox({ service: "media", schema: "media" }),
  store,
  limits: {
    maxBytes: 8 * 1024 * 1024,
    maxPixels: 40_000_000,
    // A test fails here when the machine has no ffmpeg (the installer's bootstrap brings it), never skips.
    video: videoTools(
      { MEDIA_FFMPEG: "ffmpeg", MEDIA_FFPROBE: "ffprobe" },
      { maxBytes: 4 * 1024 * 1024, maxSeconds: 60 },
    ),
  },
  uploadExpiryS: 600,
  readUrlExpiryS: 600,
  privateUrlExpiryS: 60,
  uploadPath: "/media/upload",
  quota: { bytesPerDay: 1024 * 1024 * 1024, filesPerHour: 10_000 },
};
const consumer = processingConsumer(ctx, new Semaphore(2), pino({ level: "silent" }));

before(() =>
  migrate(pool, [{ schema: "media", dir: new URL("./migrations/", import.meta.url) }, eventTables("media")]),
);
after(() => db.destroy());

// ---- factories

const as = <T>(userId: string, fn: () => Promise<T>) => runWithCall({ user: { userId, sessionId: "s" } }, fn);

async function declare(owner: string, contentType: string, byteSize: number, kind = "IMAGE") {
  const res = await as(owner, () =>
    createUpload(ctx, create(CreateUploadRequestSchema, { kind, contentType, byteSize: BigInt(byteSize) })),
  );
  assert.ok(res.media?.id);
  return res;
}

const complete = (user: string, mediaId: string) =>
  as(user, () => completeUpload(ctx, create(CompleteUploadRequestSchema, { mediaId })));

const getOne = async (viewer: string, id: string): Promise<Media | undefined> =>
  (await as(viewer, () => getMedia(ctx, create(GetMediaRequestSchema, { mediaIds: [id] })))).media?.[0] as
    | Media
    | undefined;

/**
 * Feeds the consumer every event of the media in the outbox until none is new (as the log would),
 * waiting for the processing it started in the background.
 */
async function drain(mediaId: string) {
  let seen = -1;
  for (;;) {
    const rows = await sql<{
      envelope: Envelope;
    }>`SELECT envelope FROM media.outbox WHERE key = ${mediaId} ORDER BY seq`.execute(db);
    if (rows.rows.length === seen) return;
    seen = rows.rows.length;
    for (const r of rows.rows) await applyOnce(db as unknown as Kysely<unknown>, consumer, r.envelope);
    await consumer.idle();
  }
}

/** Declared, bytes in the store, completed, processed: the media as its owner then sees it. */
async function upload(owner: string, bytes: Buffer, contentType: string) {
  const { media } = await declare(
    owner,
    contentType,
    bytes.length,
    contentType.startsWith("video/") ? "VIDEO" : "IMAGE",
  );
  const id = (media as Media).id;
  await store.put(uploadKey(id), bytes, contentType);
  let error: NovaError | undefined;
  try {
    await complete(owner, id);
  } catch (err) {
    if (!(err instanceof NovaError)) throw err;
    error = err;
  }
  await drain(id);
  return { id, error, media: (await getOne(owner, id)) as Media };
}

async function keysOf(id: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of store.list(`${id}/`)) keys.push(k);
  return keys;
}

async function assertCode(p: Promise<unknown>, code: string, field?: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof NovaError, String(err));
    assert.equal(err.code, code, err.message);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  });
}

/** A refused upload: the coded error naming the field, REJECTED with that code, and no blob left. */
async function assertRefused(bytes: Buffer, declared: string, code: string, field: string, sync = true) {
  const owner = uuidv7();
  const r = await upload(owner, bytes, declared);
  if (sync) {
    assert.ok(r.error, `expected ${code} from completeUpload`);
    assert.equal(r.error.code, code, r.error.message);
    assert.equal(r.error.field, field);
  } else assert.equal(r.error, undefined);
  assert.equal(r.media.state, "REJECTED");
  assert.equal(r.media.rejectReason, code);
  assert.equal(r.media.rejectField, field);
  assert.equal(r.media.variants.length, 0);
  assert.deepEqual(await keysOf(r.id), []);
}

/** A photo with detail (noise), so encoders have work and truncation cuts real data. */
function photo(width: number, height: number) {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real decompression bomb: a 20,000 × 20,000 1-bit PNG of zeros (~50 KB on disk, 400 Mpx). */
function bombPng(): Buffer {
  const w = 20_000;
  const h = 20_000;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = Buffer.alloc((1 + w / 8) * h); // filter byte + 2,500 bytes per row, all zero
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(rows, { level: 9 })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

// ---- the happy path

describe("upload → processed", () => {
  test("a JPEG with EXIF GPS and an orientation: variants of the right widths, oriented, with no metadata left", async () => {
    const jpeg = await photo(1600, 1200)
      .jpeg({ quality: 90 })
      .withExif({
        IFD0: { Make: "NovaCam", Model: "Test 1", Copyright: "someone" },
        IFD3: {
          GPSLatitudeRef: "N",
          GPSLatitude: "48/1 51/1 24/1",
          GPSLongitudeRef: "E",
          GPSLongitude: "2/1 21/1 3/1",
        },
      })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const input = await sharp(jpeg).metadata();
    assert.ok(input.exif?.includes(Buffer.from("NovaCam")), "the input carries EXIF");
    assert.equal(input.orientation, 6);

    const owner = uuidv7();
    const r = await upload(owner, jpeg, "image/jpeg");
    assert.equal(r.error, undefined);
    assert.equal(r.media.state, "READY");
    // Orientation 6 is a quarter turn: 1600 × 1200 shows as 1200 × 1600.
    assert.equal(r.media.width, 1200);
    assert.equal(r.media.height, 1600);
    assert.ok(r.media.blurhash.length >= 6);
    assert.deepEqual(
      r.media.variants.map((v) => [v.name, v.width, v.height]),
      [
        ["w320", 320, 427],
        ["w640", 640, 853],
        ["w1080", 1080, 1440],
        ["original", 1200, 1600],
      ],
    );
    for (const v of r.media.variants) {
      assert.match(v.url, new RegExp(`^/media/${r.id}/${v.name}\\.webp$`));
      const bytes = await store.get(v.url.replace("/media/", ""));
      assert.ok(bytes);
      const meta = await sharp(bytes).metadata();
      assert.equal(meta.format, "webp");
      assert.equal(meta.width, v.width);
      assert.equal(meta.height, v.height);
      assert.equal(meta.exif, undefined, `${v.name} has no EXIF`);
      assert.equal(meta.xmp, undefined);
      assert.equal(meta.iptc, undefined);
      assert.equal(meta.icc, undefined);
      assert.ok(!bytes.includes(Buffer.from("NovaCam")) && !bytes.includes(Buffer.from("GPS")));
      assert.equal(meta.orientation, undefined);
    }
    // The raw upload (with its EXIF) is gone once READY; only the variants stay.
    assert.deepEqual(
      (await keysOf(r.id)).sort(),
      ["original", "w1080", "w320", "w640"].map((n) => `${r.id}/${n}.webp`),
    );
    // Anyone sees ready media (for posts), without what the owner declared.
    const other = await getOne(uuidv7(), r.id);
    assert.equal(other?.state, "READY");
    assert.equal(other?.contentType, "");
    assert.equal(other?.variants.length, 4);
    const events = await sql<{
      type: string;
    }>`SELECT envelope->>'type' AS type FROM media.outbox WHERE key = ${r.id} ORDER BY seq`.execute(db);
    assert.deepEqual(
      events.rows.map((e) => e.type),
      ["MediaUploaded", "MediaProcessed"],
    );
  });

  test("small images are never upscaled; PNG, WebP, AVIF and GIF are accepted", async () => {
    const cases: [string, Buffer][] = [
      ["image/png", await photo(500, 300).png().toBuffer()],
      ["image/webp", await photo(500, 300).webp().toBuffer()],
      ["image/avif", await photo(500, 300).avif().toBuffer()],
      ["image/gif", await photo(500, 300).gif().toBuffer()],
    ];
    for (const [type, bytes] of cases) {
      const r = await upload(uuidv7(), bytes, type);
      assert.equal(r.media.state, "READY", `${type}: ${r.media.rejectReason}`);
      assert.deepEqual(
        r.media.variants.map((v) => [v.name, v.width, v.height]),
        [
          ["w320", 320, 192],
          ["original", 500, 300],
        ],
        type,
      );
    }
  });

  test("an animated GIF stays animated (as WebP)", async () => {
    const frames = await Promise.all(
      [0, 80, 160].map((g) =>
        sharp({ create: { width: 400, height: 200, channels: 3, background: { r: g, g: 0, b: 255 - g } } })
          .png()
          .toBuffer(),
      ),
    );
    const gif = await sharp(frames, { join: { animated: true } })
      .gif({ delay: [100, 100, 100] })
      .toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 3);
    const r = await upload(uuidv7(), gif, "image/gif");
    assert.equal(r.media.state, "READY", r.media.rejectReason);
    assert.equal(r.media.animated, true);
    assert.equal(r.media.width, 400);
    assert.equal(r.media.height, 200);
    for (const v of r.media.variants) {
      const meta = await sharp((await store.get(v.url.replace("/media/", ""))) as Buffer, {
        animated: true,
      }).metadata();
      assert.equal(meta.format, "webp");
      assert.equal(meta.pages, 3, `${v.name} keeps its frames`);
      assert.equal(meta.pageHeight, v.height);
    }
  });
});

// ---- bad input: each a coded error naming the field, nothing stored

describe("bad input", () => {
  test("createUpload: zero bytes, oversize, SVG, HEIC, anything else, video", async () => {
    const u = uuidv7();
    await assertCode(declare(u, "image/jpeg", 0), "MEDIA_EMPTY", "byteSize");
    await assertCode(declare(u, "image/jpeg", 8 * 1024 * 1024 + 1), "MEDIA_TOO_LARGE", "byteSize");
    await assertCode(declare(u, "image/svg+xml", 100), "MEDIA_TYPE_UNSUPPORTED", "contentType");
    await assertCode(declare(u, "image/heic", 100), "MEDIA_HEIC_UNSUPPORTED", "contentType");
    await assertCode(declare(u, "application/pdf", 100), "MEDIA_TYPE_UNSUPPORTED", "contentType");
    await assertCode(declare(u, "image/jpeg", 100, "VIDEO"), "MEDIA_TYPE_UNSUPPORTED", "contentType");
    await assertCode(declare(u, "video/mp4", 100, "IMAGE"), "MEDIA_TYPE_UNSUPPORTED", "contentType");
    await assertCode(declare(u, "video/mp4", 4 * 1024 * 1024 + 1, "VIDEO"), "MEDIA_TOO_LARGE", "byteSize");
    await assertCode(declare(u, "video/x-msvideo", 100, "VIDEO"), "MEDIA_TYPE_UNSUPPORTED", "contentType");
    await assertCode(
      as(u, () =>
        createUpload(
          { ...ctx, limits: { ...ctx.limits, video: undefined } },
          create(CreateUploadRequestSchema, { kind: "VIDEO", contentType: "video/mp4", byteSize: 100n }),
        ),
      ),
      "MEDIA_VIDEO_UNAVAILABLE",
      "kind",
    );
    await assertCode(declare(u, "image/jpeg", 100, "SOUND"), "VALIDATION_FAILED", "kind");
    const n = await sql<{ n: number }>`SELECT count(*)::int AS n FROM media.media WHERE owner_id = ${u}::uuid`.execute(
      db,
    );
    assert.equal(n.rows[0]?.n, 0);
  });

  test("a PNG declared as JPEG", async () => {
    await assertRefused(await photo(64, 64).png().toBuffer(), "image/jpeg", "MEDIA_TYPE_MISMATCH", "contentType");
  });

  test("a lying content type: text declared as PNG", async () => {
    await assertRefused(
      Buffer.from("hello, this is not an image at all\n"),
      "image/png",
      "MEDIA_TYPE_UNSUPPORTED",
      "file",
    );
  });

  test("an SVG with a script, declared as PNG", async () => {
    const svg = Buffer.from(
      `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`,
    );
    await assertRefused(svg, "image/png", "MEDIA_TYPE_UNSUPPORTED", "file");
  });

  test("HEIC bytes (an ftyp heic box), declared as JPEG", async () => {
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from("ftypheic", "latin1"),
      Buffer.from([0, 0, 0, 0]),
      Buffer.from("mif1heic", "latin1"),
      Buffer.alloc(64),
    ]);
    await assertRefused(heic, "image/jpeg", "MEDIA_HEIC_UNSUPPORTED", "file");
  });

  test("a truncated JPEG", async () => {
    const jpeg = await photo(800, 600).jpeg().toBuffer();
    await assertRefused(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), "image/jpeg", "MEDIA_CORRUPT", "file");
  });

  test("a polyglot: a JPEG that is also a ZIP", async () => {
    const jpeg = await photo(100, 100).jpeg().toBuffer();
    // A ZIP's local header and end-of-central-directory record after the JPEG's end.
    const zip = Buffer.concat([
      Buffer.from("PK\x03\x04", "latin1"),
      Buffer.alloc(26),
      Buffer.from("PK\x05\x06", "latin1"),
      Buffer.alloc(18),
    ]);
    await assertRefused(Buffer.concat([jpeg, zip]), "image/jpeg", "MEDIA_CORRUPT", "file");
  });

  test("a 20,000 × 20,000 image bomb", async () => {
    await assertRefused(bombPng(), "image/png", "MEDIA_TOO_MANY_PIXELS", "file");
  });

  test("bytes that differ from the size declared, and zero bytes sent", async () => {
    const owner = uuidv7();
    const png = await photo(32, 32).png().toBuffer();
    const { media } = await declare(owner, "image/png", png.length + 10);
    const id = (media as Media).id;
    await store.put(uploadKey(id), png, "image/png");
    await assertCode(complete(owner, id), "MEDIA_SIZE_MISMATCH", "byteSize");
    await drain(id);
    assert.deepEqual(await keysOf(id), []);
    const empty = await declare(owner, "image/png", 10);
    await store.put(uploadKey((empty.media as Media).id), Buffer.alloc(0), "image/png");
    await assertCode(complete(owner, (empty.media as Media).id), "MEDIA_SIZE_MISMATCH", "byteSize");
  });

  test("an image that passes the header checks but cannot be decoded is rejected by the consumer", async () => {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(64, 0);
    ihdr.writeUInt32BE(64, 4);
    ihdr[8] = 8;
    ihdr[9] = 2;
    const broken = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk("IHDR", ihdr),
      pngChunk("IDAT", Buffer.from("this is not a zlib stream at all", "latin1")),
      pngChunk("IEND", Buffer.alloc(0)),
    ]);
    await assertRefused(broken, "image/png", "MEDIA_CORRUPT", "file", false);
  });

  test("completed twice, someone else's media, and no bytes yet", async () => {
    const owner = uuidv7();
    const png = await photo(32, 32).png().toBuffer();
    const { media } = await declare(owner, "image/png", png.length);
    const id = (media as Media).id;
    await assertCode(complete(owner, id), "MEDIA_NOT_UPLOADED", "id");
    await store.put(uploadKey(id), png, "image/png");
    await assertCode(complete(uuidv7(), id), "FORBIDDEN", "id");
    await complete(owner, id);
    await assertCode(complete(owner, id), "MEDIA_ALREADY_COMPLETED", "id");
    await assertCode(complete(owner, uuidv7()), "NOT_FOUND", "id");
    await assertCode(complete(owner, "nope"), "VALIDATION_FAILED", "id");
    // Not ready yet: only the owner sees it.
    assert.equal((await getOne(owner, id))?.state, "UPLOADED");
    assert.equal(await getOne(uuidv7(), id), undefined);
    await drain(id);
    assert.equal((await getOne(owner, id))?.state, "READY");
  });
});

// ---- processing outside the consumer's transaction

/** Declared, bytes in the store and completed (MediaUploaded in the outbox), not processed yet. */
async function completed(owner: string) {
  const png = await photo(400, 300).png().toBuffer();
  const { media } = await declare(owner, "image/png", png.length);
  const id = (media as Media).id;
  await store.put(uploadKey(id), png, "image/png");
  await complete(owner, id);
  const rows = await sql<{ envelope: Envelope }>`
    SELECT envelope FROM media.outbox WHERE key = ${id} ORDER BY seq`.execute(db);
  return { id, uploaded: (rows.rows[0] as { envelope: Envelope }).envelope };
}

const eventsOf = async (id: string, type: string) =>
  (
    await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM media.outbox WHERE key = ${id} AND envelope->>'type' = ${type}`.execute(db)
  ).rows[0]?.n;

describe("processing outside the consumer's transaction", () => {
  test("the consumer commits before the image is decoded: no transaction is held while sharp runs", async () => {
    // A semaphore held by the test: the image cannot be decoded until it lets go.
    const gate = new Semaphore(1);
    let release = () => {};
    const held = gate.run(() => new Promise<void>((r) => (release = r)));
    const gated = processingConsumer(ctx, gate, pino({ level: "silent" }));
    const { id, uploaded } = await completed(uuidv7());
    // applyOnce answers once its transaction committed. Before, the handler decoded inside that
    // transaction, so this waited for the gate forever.
    assert.equal(await applyOnce(db as unknown as Kysely<unknown>, gated, uploaded), "applied");
    assert.equal((await getOne(uuidv7(), id))?.state, undefined, "not READY while the gate is held");
    release();
    await held;
    await gated.idle();
    assert.equal((await getOne(uuidv7(), id))?.state, "READY");
    assert.equal(await eventsOf(id, "MediaProcessed"), 1);
  });

  test("a claim left by a crash is resumed; two runs of the same upload finish it once", async () => {
    const { id, uploaded } = await completed(uuidv7());
    // A crash after the event was consumed and the row claimed: PROCESSING, the event already handled.
    await sql`UPDATE media.media SET state = 'PROCESSING', updated_at = now() - interval '1 hour'
              WHERE id = ${id}`.execute(db);
    const a = processingConsumer(ctx, new Semaphore(1), pino({ level: "silent" }));
    const b = processingConsumer(ctx, new Semaphore(1), pino({ level: "silent" }));
    assert.ok((await a.resume(60_000)) >= 1);
    // A redelivery (to another replica) races the resumed run.
    await applyOnce(db as unknown as Kysely<unknown>, b, uploaded);
    await Promise.all([a.idle(), b.idle()]);
    assert.equal((await getOne(uuidv7(), id))?.state, "READY");
    assert.equal(await eventsOf(id, "MediaProcessed"), 1, "MediaProcessed once");
    const variants = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM media.variants WHERE media_id = ${id}`.execute(db);
    assert.equal(variants.rows[0]?.n, 2, "w320 and original (400 wide), once");
    assert.ok(!(await unfinishedClaims(db, 0, 10_000)).includes(id), "nothing left to resume");
  });
});

// ---- the cleanup

test("uploads never completed, and refused ones, are deleted after 24 hours with their blobs; ready media stays", async () => {
  const owner = uuidv7();
  const png = await photo(40, 40).png().toBuffer();
  const { media } = await declare(owner, "image/png", png.length);
  const pending = (media as Media).id;
  await store.put(uploadKey(pending), png, "image/png");
  const refused = await upload(owner, Buffer.from("not an image"), "image/png");
  const ready = await upload(owner, png, "image/png");
  assert.equal(ready.media.state, "READY");
  const fresh = (await declare(owner, "image/png", 10)).media as Media;
  const all = [pending, refused.id, ready.id];
  await sql`UPDATE media.media SET created_at = now() - interval '25 hours' WHERE id = ANY(${all}::uuid[])`.execute(db);
  assert.ok((await purgeStale(db, store, 86_400_000)) >= 2);
  const left = await sql<{
    id: string;
  }>`SELECT id::text AS id FROM media.media WHERE owner_id = ${owner}::uuid ORDER BY id`.execute(db);
  assert.deepEqual(
    left.rows.map((r) => r.id),
    [ready.id, fresh.id].sort(),
  );
  assert.deepEqual(await keysOf(pending), []);
  assert.deepEqual(await keysOf(ready.id), [`${ready.id}/original.webp`]);
});

test("quotas: files per hour and bytes per day, each a coded error naming its field, nothing stored", async () => {
  const small: MediaContext = { ...ctx, quota: { bytesPerDay: 1_000, filesPerHour: 3 } };
  const owner = uuidv7();
  const count = async () =>
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM media.media WHERE owner_id = ${owner}::uuid`.execute(db))
        .rows[0]?.n,
    );
  const make = (byteSize: number) =>
    as(owner, () =>
      createUpload(
        small,
        create(CreateUploadRequestSchema, { kind: "IMAGE", contentType: "image/png", byteSize: BigInt(byteSize) }),
      ),
    );
  await make(400);
  await make(400);
  // 800 declared today: 201 more bytes would pass 1,000.
  await assertCode(make(201), "QUOTA_EXCEEDED", "byteSize");
  await make(200);
  assert.equal(await count(), 3);
  await assertCode(make(1), "QUOTA_EXCEEDED", "files");
  assert.equal(await count(), 3, "nothing stored by a refusal");
  // An hour later the files quota has room again, but the day's bytes are spent.
  await sql`UPDATE media.media SET created_at = now() - interval '61 minutes' WHERE owner_id = ${owner}::uuid`.execute(
    db,
  );
  await assertCode(make(1), "QUOTA_EXCEEDED", "byteSize");
  // A day later both have room; another user was never limited by this one.
  await sql`UPDATE media.media SET created_at = now() - interval '25 hours' WHERE owner_id = ${owner}::uuid`.execute(
    db,
  );
  await make(1_000);
  await as(uuidv7(), () =>
    createUpload(
      small,
      create(CreateUploadRequestSchema, { kind: "IMAGE", contentType: "image/png", byteSize: 1_000n }),
    ),
  );
});

test("quotas hold under concurrent uploads of one user", async () => {
  const small: MediaContext = { ...ctx, quota: { bytesPerDay: 1024 * 1024, filesPerHour: 5 } };
  const owner = uuidv7();
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, () =>
      as(owner, () =>
        createUpload(
          small,
          create(CreateUploadRequestSchema, { kind: "IMAGE", contentType: "image/png", byteSize: 10n }),
        ),
      ),
    ),
  );
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
  for (const r of results) if (r.status === "rejected") assert.equal((r.reason as NovaError).code, "QUOTA_EXCEEDED");
});

const attach = (owner: string, ids: string[]) =>
  as(owner, () => attachMedia(ctx, create(AttachMediaRequestSchema, { mediaIds: ids })));

test("READY media never attached is deleted 24 hours after it became READY, blobs then row; attached media stays", async () => {
  const owner = uuidv7();
  const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#123" } })
    .png()
    .toBuffer();
  const [lonely, used, fresh] = [
    await upload(owner, png, "image/png"),
    await upload(owner, png, "image/png"),
    await upload(owner, png, "image/png"),
  ];
  for (const m of [lonely, used, fresh]) assert.equal(m.media.state, "READY");
  await attach(owner, [used.id]);
  await sql`UPDATE media.media SET updated_at = now() - interval '25 hours' WHERE id = ANY(${[lonely.id, used.id]}::uuid[])`.execute(
    db,
  );
  const deleted = await purgeUnattached(db, store, 86_400_000);
  assert.ok(deleted.includes(lonely.id));
  assert.ok(!deleted.includes(used.id) && !deleted.includes(fresh.id));
  assert.deepEqual(await keysOf(lonely.id), []);
  assert.equal(await getOne(owner, lonely.id), undefined, "the row went after its blobs");
  assert.ok((await keysOf(used.id)).length > 0);
  assert.ok((await keysOf(fresh.id)).length > 0);
  // Too late to attach what is gone.
  await assertCode(attach(owner, [lonely.id]), "NOT_FOUND", "attachments[0].mediaId");
});

test("READY media is read through the cache (L1, and L2 in Redis with its dates kept); attaching and purging invalidate it", async () => {
  const redisUrl = (await services()).redis;
  const log = pino({ level: "silent" });
  // Two processes' caches over one Redis: the second starts with an empty L1, so it reads L2.
  const caches = [createCache({ redisUrl, log, name: "media-a" }), createCache({ redisUrl, log, name: "media-b" })];
  // An entity name of this run's own (the harness's Redis outlives runs).
  const name = `ready-t${Date.now()}`;
  const [a, b] = caches.map(
    (c): MediaContext => ({ ...ctx, ready: c.entity<ReadyMedia>("media", name, 1, READY_MEDIA_CODEC) }),
  ) as [MediaContext, MediaContext];
  const read = async (c: MediaContext, viewer: string, id: string) =>
    (await as(viewer, () => getMedia(c, create(GetMediaRequestSchema, { mediaIds: [id] })))).media?.[0] as
      | Media
      | undefined;
  try {
    const owner = uuidv7();
    const viewer = uuidv7();
    const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#345" } })
      .png()
      .toBuffer();
    const m = await upload(owner, png, "image/png");
    const uncached = await getOne(viewer, m.id);
    assert.ok(uncached && uncached.variants.length > 0);
    assert.deepEqual(await read(a, viewer, m.id), uncached, "a miss: loaded, the same answer");
    // A change behind the cache's back is not seen: the answer came from the cache (L1, then L2).
    await sql`UPDATE media.media SET blurhash = 'changed' WHERE id = ${m.id}::uuid`.execute(db);
    assert.deepEqual(await read(a, viewer, m.id), uncached);
    const fromL2 = await read(b, viewer, m.id);
    assert.deepEqual(fromL2, uncached, "decoded from Redis: the same message, createdAt included");
    // Presented once per cached entry: every other viewer gets that message; the owner their own view.
    assert.equal(await read(b, uuidv7(), m.id), fromL2, "one presentation per cached entry");
    assert.equal((await read(b, owner, m.id))?.byteSize, BigInt(png.length));
    // ... and never past half the life of its read URLs.
    const l1 = createCache({ log, name: "media-c" });
    const short: MediaContext = {
      ...ctx,
      readUrlExpiryS: 0.002,
      ready: l1.entity("media", name, 1, READY_MEDIA_CODEC),
    };
    const first = await read(short, viewer, m.id);
    await new Promise((r) => setTimeout(r, 5));
    const again = await read(short, viewer, m.id);
    assert.deepEqual(again, first);
    assert.notEqual(again, first, "presented again once its URLs' half-life passed");
    await l1.close();

    // Attached (through a): every process drops its copy and reads the row again.
    await as(owner, () => attachMedia(a, create(AttachMediaRequestSchema, { mediaIds: [m.id] })));
    for (const c of [a, b]) {
      await eventually(
        "the attachment invalidated the cached row",
        async () => ((await read(c, viewer, m.id))?.blurhash === "changed" ? true : undefined),
        5_000,
      );
    }

    // Not READY: never cached, so the owner's poll sees each state as it is committed.
    const { media: pending } = await declare(owner, "image/png", png.length);
    const pendingId = (pending as Media).id;
    assert.equal((await read(a, owner, pendingId))?.state, "PENDING");
    await sql`UPDATE media.media SET state = 'UPLOADED' WHERE id = ${pendingId}::uuid`.execute(db);
    assert.equal((await read(a, owner, pendingId))?.state, "UPLOADED");

    // The post's purge deletes the media: gone at once, though it was cached.
    assert.ok(await read(b, viewer, m.id));
    const purge = postPurgeConsumer(a);
    const purged = POST_EVENTS.event("PostPurged", owner, { postId: uuidv7(), authorId: owner, mediaIds: [m.id] });
    await applyOnce(db as unknown as Kysely<unknown>, purge, {
      id: uuidv7(),
      type: purged.type,
      aggregate_type: purged.aggregateType,
      aggregate_id: purged.aggregateId,
      occurred_at: new Date().toISOString(),
      actor_id: owner,
      schema_version: 1,
      traceparent: null,
      payload: purged.payload,
    });
    for (const c of [a, b]) {
      await eventually(
        "purged media is not served from a cache",
        async () => ((await read(c, viewer, m.id)) === undefined ? true : undefined),
        5_000,
      );
    }
  } finally {
    await Promise.all(caches.map((c) => c.close()));
  }
});

test("the orphan check: blobs without a row go after the grace period, rows without blobs are reported", async () => {
  const owner = uuidv7();
  const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#321" } })
    .png()
    .toBuffer();
  const kept = await upload(owner, png, "image/png");
  const broken = await upload(owner, png, "image/png");
  await store.delete([`${broken.id}/w320.webp`]);
  const old = uuidv7At(Date.now() - 3 * 86_400_000);
  const inFlight = uuidv7();
  await store.put(`${old}/original.webp`, Buffer.from("x"), "image/webp");
  await store.put(`${old}/upload`, Buffer.from("x"), "image/png");
  await store.put(`${inFlight}/upload`, Buffer.from("x"), "image/png");
  await store.put("not-media/readme.txt", Buffer.from("x"), "text/plain");

  const report = await checkOrphans(db, store, 86_400_000);
  assert.deepEqual(report.deleted.sort(), [`${old}/original.webp`, `${old}/upload`]);
  assert.deepEqual(await keysOf(old), []);
  assert.deepEqual(await keysOf(inFlight), [`${inFlight}/upload`], "an id younger than the grace period is left");
  assert.ok(report.missing.includes(broken.id));
  assert.ok(!report.missing.includes(kept.id));
  assert.ok(report.foreign >= 1);
  assert.ok((await store.get("not-media/readme.txt")) !== undefined, "keys that are not media's are left alone");
  const gauge = await registry.getSingleMetric("nova_media_missing_blobs")?.get();
  assert.equal(gauge?.values[0]?.value, report.missing.length);
});

// ---- the fs store

// ---- video

const ffmpegRun = promisify(execFile);

/** A clip made by ffmpeg at test time: a moving test pattern (with a tone unless `silent`). */
async function clip(opts: {
  seconds?: number;
  size?: string;
  rate?: number;
  format?: string;
  codec?: string[];
  extra?: string[];
  silent?: boolean;
  audioOnly?: boolean;
}) {
  const dir = tempDir("nova-clip-");
  const out = join(dir, `clip.${opts.format ?? "mp4"}`);
  const seconds = opts.seconds ?? 2;
  const picture = [
    "-f",
    "lavfi",
    "-i",
    `testsrc=duration=${seconds}:size=${opts.size ?? "640x360"}:rate=${opts.rate ?? 25}`,
  ];
  const tone = ["-f", "lavfi", "-i", `sine=frequency=440:duration=${seconds}`];
  const inputs = opts.audioOnly ? tone : opts.silent ? picture : [...picture, ...tone];
  const codec = opts.audioOnly
    ? ["-c:a", "aac"]
    : (opts.codec ?? ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]);
  await ffmpegRun("ffmpeg", [
    "-v",
    "error",
    "-y",
    ...inputs,
    ...codec,
    ...(opts.extra ?? []),
    "-f",
    opts.format ?? "mp4",
    out,
  ]);
  return readFileSync(out);
}

async function probeTags(bytes: Buffer) {
  const dir = tempDir("nova-probe-");
  const file = join(dir, "v");
  writeFileSync(file, bytes);
  const { stdout } = await ffmpegRun("ffprobe", [
    "-v",
    "error",
    "-print_format",
    "json",
    "-show_format",
    "-show_streams",
    file,
  ]);
  return JSON.parse(stdout) as {
    format: { tags?: Record<string, string>; format_name: string; duration: string };
    streams: { codec_name: string; tags?: Record<string, string> }[];
  };
}

describe("video", () => {
  test("an MP4 with a location and a title: remuxed with no metadata, a poster with variants, its duration", async () => {
    const input = await clip({
      extra: [
        "-metadata",
        "location=+48.8577+002.2950/",
        "-metadata",
        "title=secret title",
        "-metadata:s:v:0",
        "handler_name=SecretCam",
      ],
    });
    assert.equal((await probeTags(input)).format.tags?.location, "+48.8577+002.2950/", "the input carries a location");
    const owner = uuidv7();
    const r = await upload(owner, input, "video/mp4");
    assert.equal(r.error, undefined);
    assert.equal(r.media.state, "READY", r.media.rejectReason);
    assert.equal(r.media.kind, "VIDEO");
    assert.equal(r.media.durationMs, 2000);
    assert.deepEqual([r.media.width, r.media.height], [640, 360]);
    assert.ok(r.media.blurhash.length >= 6);
    assert.deepEqual(
      r.media.variants.map((v) => [v.name, v.width, v.height, v.contentType]),
      [
        ["w320", 320, 180, "image/webp"],
        ["original", 640, 360, "image/webp"],
        ["video", 640, 360, "video/mp4"],
      ],
    );
    assert.deepEqual((await keysOf(r.id)).sort(), [`${r.id}/original.webp`, `${r.id}/video.mp4`, `${r.id}/w320.webp`]);
    const stream = (await store.get(`${r.id}/video.mp4`)) as Buffer;
    const out = await probeTags(stream);
    assert.deepEqual(
      out.streams.map((s) => s.codec_name),
      ["h264", "aac"],
    );
    assert.equal(out.format.tags?.location, undefined);
    assert.equal(out.format.tags?.title, undefined);
    assert.ok(!stream.includes("SecretCam") && !stream.includes("secret title") && !stream.includes("+48.8577"));
    // faststart: the index (moov) comes before the pictures (mdat), so playback starts at once.
    assert.ok(stream.indexOf("moov") < stream.indexOf("mdat"));
    const poster = await sharp((await store.get(`${r.id}/original.webp`)) as Buffer).metadata();
    assert.deepEqual([poster.format, poster.width, poster.height, poster.exif], ["webp", 640, 360, undefined]);
  });

  test("WebM (VP9 + Opus) stays WebM; QuickTime becomes MP4", async () => {
    const webm = await clip({
      format: "webm",
      size: "320x240",
      codec: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"],
    });
    const w = await upload(uuidv7(), webm, "video/webm");
    assert.equal(w.media.state, "READY", w.media.rejectReason);
    assert.deepEqual(
      w.media.variants.map((v) => [v.name, v.contentType]),
      [
        ["original", "image/webp"],
        ["video", "video/webm"],
      ],
    );
    assert.match(
      (await probeTags((await store.get(`${w.id}/video.webm`)) as Buffer)).format.format_name,
      /webm|matroska/,
    );
    const mov = await upload(uuidv7(), await clip({ format: "mov", size: "320x240" }), "video/quicktime");
    assert.equal(mov.media.state, "READY", mov.media.rejectReason);
    assert.equal(mov.media.variants.at(-1)?.contentType, "video/mp4");
    assert.deepEqual(await keysOf(mov.id).then((k) => k.filter((x) => x.endsWith(".mp4"))), [`${mov.id}/video.mp4`]);
  });

  test("refused: too long, no picture, a codec browsers do not play, an image declared as video, MP4 declared as WebM", async () => {
    await assertRefused(
      await clip({ seconds: 61, size: "64x64", rate: 1, silent: true }),
      "video/mp4",
      "MEDIA_TOO_LONG",
      "file",
    );
    await assertRefused(await clip({ audioOnly: true }), "video/mp4", "MEDIA_TYPE_UNSUPPORTED", "file");
    await assertRefused(
      await clip({ size: "320x240", codec: ["-c:v", "mpeg4", "-c:a", "aac"] }),
      "video/mp4",
      "MEDIA_TYPE_UNSUPPORTED",
      "file",
    );
    await assertRefused(await photo(64, 64).jpeg().toBuffer(), "video/mp4", "MEDIA_TYPE_UNSUPPORTED", "file");
    await assertRefused(await clip({ size: "320x240" }), "video/webm", "MEDIA_TYPE_MISMATCH", "contentType");
  });

  test("truncated: without its index at completeUpload, with it when the consumer remuxes", async () => {
    const whole = await clip({ size: "320x240" });
    // ffmpeg writes the index (moov) last: cut, the file has none and cannot be probed.
    await assertRefused(whole.subarray(0, Math.floor(whole.length / 2)), "video/mp4", "MEDIA_CORRUPT", "file");
    const fast = await clip({ size: "320x240", extra: ["-movflags", "+faststart"] });
    await assertRefused(fast.subarray(0, Math.floor(fast.length * 0.6)), "video/mp4", "MEDIA_CORRUPT", "file", false);
  });
});

describe("fs store", () => {
  test("keys cannot leave the folder", async () => {
    for (const bad of ["", "../x", "a/../../b", "/etc/passwd", "a//b", "a/./b", ".tmp-x", "a\\b", "a/b\0"]) {
      assert.equal(validKey(bad), false, bad);
      await assert.rejects(store.put(bad, Buffer.from("x"), "text/plain"));
      await assert.rejects(store.get(bad));
    }
    assert.equal(validKey(`${uuidv7()}/w320.webp`), true);
  });

  test("put, head, get, list and delete", async () => {
    const id = uuidv7();
    await store.put(`${id}/original.webp`, Buffer.from("bytes"), "image/webp");
    const head = await store.head(`${id}/original.webp`);
    assert.equal(head?.size, 5);
    assert.equal(head?.contentType, "image/webp");
    assert.ok(head?.etag);
    assert.equal((await store.get(`${id}/original.webp`))?.toString(), "bytes");
    assert.deepEqual(await keysOf(id), [`${id}/original.webp`]);
    // From a stream too (the gateway's upload route streams), atomically: no temporary file is listed.
    await store.put(`${id}/upload`, Readable.from([Buffer.from("ab"), Buffer.from("cd")]), "image/png");
    assert.equal((await store.get(`${id}/upload`))?.toString(), "abcd");
    assert.deepEqual(await keysOf(id), [`${id}/original.webp`, `${id}/upload`]);
    await store.delete([`${id}/original.webp`, `${id}/upload`, `${id}/missing.webp`]);
    assert.equal(await store.get(`${id}/original.webp`), undefined);
    assert.equal(await store.head(`${id}/original.webp`), undefined);
  });
});

test("the semaphore holds at most n at once", async () => {
  const sem = new Semaphore(2);
  let active = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 8 }, () =>
      sem.run(async () => {
        active += 1;
        most = Math.max(most, active);
        await new Promise((r) => setTimeout(r, 5));
        active -= 1;
      }),
    ),
  );
  assert.equal(most, 2);
});
