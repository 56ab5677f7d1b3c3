/**
 * Photo uploads end to end: createUpload → the bytes → completeUpload → processed (READY), through
 * the GraphQL gateway as a client sends them, with 4-megapixel JPEGs made here at start (gradients,
 * soft blobs and grain: photo-like, so decoding and encoding cost what a photo costs). Side by side
 * in one run:
 *   - the ceiling: sharp alone (process.ts's processImage in this process) making the same variants
 *     from the same files at the same concurrency (MEDIA_CONCURRENCY), nothing else running
 *   - embedded (`nova start`: the gateway's PUT route, the fs store, the Postgres log)
 *   - distributed (identity, media, the gateway's other services, the gateway and the relay as
 *     processes; presigned PUTs straight to the harness's SeaweedFS, events through Kafka)
 * For each mode: photos/s with every upload sent at once (the most the consumer drains), then
 * upload → READY (p50/p99, from the start of createUpload to the commit of READY, read from the
 * row) at half that rate (an open model), CPU ms per photo by process group, and the peak RSS
 * (VmHWM) of the process that runs `media`. Then, embedded, the home feed page (20 posts) whose
 * posts carry 1–4 media each beside one whose posts carry none: CPU per page, in alternating
 * rounds. Every measure is taken twice (round 1 and 2) on the shared machine.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { ensureServices, overPrimarySocket } from "../scripts/services.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { processImage, Semaphore } from "../src/services/media/process.ts";
import {
  type cpuMeter,
  cpuPerUnit,
  gql,
  metric,
  need,
  nova,
  type Proc,
  pct,
  processMeter,
  type ScratchDb,
  scratchDatabase,
  stop,
  waitHttp,
} from "./lib.ts";

const root = new URL("..", import.meta.url).pathname;
const t00 = Date.now();
const say = (m: string) => process.stderr.write(`media [${((Date.now() - t00) / 1000).toFixed(1)} s]: ${m}\n`);
const CONCURRENCY = 2;
const LIMITS = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000 };
/** Every gateway budget off: the bench measures processing, not the rate limits. */
const OPEN = {
  GATEWAY_RATE_USER_QUERIES: "0",
  GATEWAY_RATE_USER_MUTATIONS: "0",
  GATEWAY_RATE_IP_QUERIES: "0",
  GATEWAY_RATE_IP_MUTATIONS: "0",
  GATEWAY_MAX_EVENT_LOOP_DELAY_MS: "0",
  MEDIA_CONCURRENCY: String(CONCURRENCY),
  LOG_LEVEL: "error",
};
const TARGETS = { ceiling_ratio: 0.7, p99_ms: 3_000, rss_mb: 600, feed_media_cpu_ratio: 1.1 };

/** A photo-like JPEG: a diagonal gradient, soft colour blobs and per-pixel grain (a fixed seed per `n`). */
export async function photo(n: number, width: number, height: number, quality = 88): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let s = (n + 1) * 2654435761;
  const rnd = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  };
  const blobs = Array.from({ length: 6 }, () => ({
    x: (rnd() / 255) * width,
    y: (rnd() / 255) * height,
    r: (0.1 + rnd() / 512) * width,
    c: [rnd(), rnd(), rnd()],
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const g = ((x + y) / (width + height)) * 160;
      for (let c = 0; c < 3; c++) {
        let v = g * (0.6 + c * 0.2) + 30 * Math.sin((x * (c + 1)) / 97 + n) * Math.cos(y / 131);
        for (const b of blobs) {
          const d2 = ((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r);
          if (d2 < 4) v += ((b.c[c] as number) - v) * Math.exp(-d2) * 0.8;
        }
        raw[i + c] = Math.max(0, Math.min(255, v + (rnd() >> 3) - 16));
      }
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** VmHWM (peak resident set) of a process, in MB. */
function peakRssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

const perPhoto = (cpu: Record<string, number>, n: number) => cpuPerUnit(cpu, n, 0);

/** The ceiling: processImage alone over the files, at most CONCURRENCY at once; photos/s and CPU ms/photo. */
async function ceiling(files: Buffer[], n: number) {
  const sem = new Semaphore(CONCURRENCY);
  const c0 = process.cpuUsage();
  const t0 = Date.now();
  const done = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      sem.run(async () => {
        await processImage(files[i % files.length] as Buffer, "image/jpeg", LIMITS);
        return Date.now();
      }),
    ),
  );
  const c = process.cpuUsage(c0);
  return { ...rates(t0, done), cpu_ms_per_photo: Math.round((c.user + c.system) / 1000 / n) };
}

/**
 * Photos/s from completion times: `photos_per_s` between the first and the last completion (the
 * rate the pipeline keeps once full, the same measure for the ceiling and the modes), and
 * `photos_per_s_from_start` from the first send (with the first photo's whole latency in it).
 */
function rates(t0: number, done: number[]) {
  const first = Math.min(...done);
  const last = Math.max(...done);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    photos_per_s: r2((done.length - 1) / ((last - first) / 1000)),
    photos_per_s_from_start: r2(done.length / ((last - t0) / 1000)),
  };
}

interface Client {
  gql: string;
  base: string;
  tokens: string[];
  /** The admin port's /metrics of the process that serves GraphQL. */
  metrics: string;
}

const CREATE = `mutation($i: CreateUploadInput!) { createUpload(input: $i) { media { id }
  upload { url method headers { name value } } } }`;

/** One upload as a client sends it: createUpload, the PUT, completeUpload. Answers the media id. */
async function upload(c: Client, token: string, bytes: Buffer, type = "image/jpeg"): Promise<string> {
  const created = need<{ media: { id: string }; upload: { url: string; headers: { name: string; value: string }[] } }>(
    await gql(c.gql, CREATE, { i: { kind: "IMAGE", contentType: type, byteSize: bytes.length } }, token),
    "createUpload",
  );
  const target = created.upload.url.startsWith("/") ? `${c.base}${created.upload.url}` : created.upload.url;
  const headers: Record<string, string> = Object.fromEntries(created.upload.headers.map((h) => [h.name, h.value]));
  // The gateway's route takes the bearer; a presigned URL carries its own signature.
  if (target.startsWith(c.base)) headers.authorization = `Bearer ${token}`;
  const put = await fetch(target, { method: "PUT", headers, body: bytes });
  if (!put.ok) throw new Error(`PUT ${put.status}: ${(await put.text()).slice(0, 300)}`);
  need(
    await gql(c.gql, "mutation($id: ID!) { completeUpload(id: $id) { id } }", { id: created.media.id }, token),
    "completeUpload",
  );
  return created.media.id;
}

/**
 * Waits until every id is READY and answers when each became so (the commit of READY: the row's
 * updated_at, ms since the epoch). The rows are read directly, so no poll loads the gateway.
 */
async function readyTimes(db: ScratchDb, ids: string[], timeoutMs: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const end = Date.now() + timeoutMs;
  while (out.size < ids.length) {
    const r = await db.db.writerPool.query(
      `SELECT id::text, state, (extract(epoch FROM updated_at) * 1000)::float8 AS at
       FROM media.media WHERE id = ANY($1::uuid[]) AND state IN ('READY', 'REJECTED')`,
      [ids.filter((id) => !out.has(id))],
    );
    for (const row of r.rows) {
      if (row.state !== "READY") throw new Error(`media ${row.id} was REJECTED`);
      out.set(row.id, row.at);
    }
    if (Date.now() > end) throw new Error(`${ids.length - out.size} uploads not READY in ${timeoutMs} ms`);
    if (out.size < ids.length) await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

type Meter = ReturnType<typeof cpuMeter>;

/** Every upload sent at once (4 clients): photos/s (rates()) and CPU per photo. */
async function maxRate(c: Client, db: ScratchDb, meter: Meter, files: Buffer[], n: number) {
  const cpu = meter.start();
  const t0 = Date.now();
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = next++; i < n; i = next++) {
        ids.push(await upload(c, c.tokens[(w + i) % c.tokens.length] as string, files[i % files.length] as Buffer));
      }
    }),
  );
  const ready = await readyTimes(db, ids, 600_000);
  const used = cpu();
  return { ...rates(t0, [...ready.values()]), cpu_ms_per_photo: perPhoto(used, n) };
}

/** Open model: an upload started every 1/rate s; upload → READY latencies. */
async function atRate(c: Client, db: ScratchDb, files: Buffer[], rate: number, n: number) {
  const starts = new Map<string, number>();
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const started = Date.now();
    pending.push(
      upload(c, c.tokens[i % c.tokens.length] as string, files[i % files.length] as Buffer).then((id) => {
        starts.set(id, started);
      }),
    );
  }
  await Promise.all(pending);
  const ready = await readyTimes(db, [...starts.keys()], 600_000);
  const lat = [...starts].map(([id, s]) => (ready.get(id) as number) - s);
  return { rate: Math.round(rate * 100) / 100, photos: n, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
}

async function register(gqlUrl: string, prefix: string): Promise<{ token: string; id: string }> {
  const tag = randomBytes(4).toString("hex");
  const r = await gql(gqlUrl, "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }", {
    i: { email: `${prefix}${tag}@bench.example`, username: `${prefix}_${tag}`, password: "bench password 1" },
  });
  const p = need<{ accessToken: string; user: { id: string } }>(r, "register");
  return { token: p.accessToken, id: p.user.id };
}

/**
 * One mode's measures, `rounds` times: the ceiling right before the max rate (the ratio of the two is
 * taken side by side, as the shared machine's load drifts), then half of that rate; the peak RSS of
 * the `media` process at the end.
 */
async function measureMode(
  label: string,
  c: Client,
  db: ScratchDb,
  meter: Meter,
  files: Buffer[],
  size: Size,
  mediaPid: () => number | undefined,
) {
  // Warm-up (unmeasured): the first decode loads libvips' codecs, the first statements are prepared.
  await readyTimes(db, [await upload(c, c.tokens[0] as string, files[0] as Buffer)], 120_000);
  const rounds = [];
  for (let round = 1; round <= size.rounds; round++) {
    const ceil = await ceiling(files, size.max);
    const max = await maxRate(c, db, meter, files, size.max);
    const ratio = Math.round((max.photos_per_s / ceil.photos_per_s) * 100) / 100;
    say(
      `${label} round ${round}: ${max.photos_per_s} photos/s beside the ceiling's ${ceil.photos_per_s} (${ratio}x); CPU ms/photo ${JSON.stringify(max.cpu_ms_per_photo)} (ceiling ${ceil.cpu_ms_per_photo})`,
    );
    const half = await atRate(c, db, files, max.photos_per_s / 2, size.half);
    say(`${label} round ${round}: at ${half.rate}/s upload → READY p50 ${half.p50_ms} p99 ${half.p99_ms} ms`);
    rounds.push({ ceiling: ceil, ...max, ratio_to_ceiling: ratio, half_rate: half });
  }
  return { rounds, media_rss_peak_mb: peakRssMb(mediaPid()) };
}

const FEED = `query { feed(first: 20) { edges { node { id text createdAt author { username displayName }
  likeCount commentCount viewerHasLiked viewerHasBookmarked
  media { id url width height blurhash variants { name url width height } } } } } }`;

/**
 * The home feed with and without media: two readers, one following authors whose posts carry 1–4
 * media each, one following authors of text posts; CPU per page in alternating rounds.
 */
async function feedWithMedia(c: Client, db: ScratchDb, meter: Meter, size: Size) {
  const authors = size.feedAuthors;
  const posts = 5;
  const small = await Promise.all(Array.from({ length: 4 }, (_, i) => photo(100 + i, 800, 600)));
  const withMedia = await register(c.gql, "reader_m");
  const without = await register(c.gql, "reader_t");
  let mediaCount = 0;
  for (let a = 0; a < authors * 2; a++) {
    const author = await register(c.gql, "author");
    const reader = a < authors ? withMedia : without;
    need(await gql(c.gql, "mutation($u: ID!) { follow(userId: $u) { id } }", { u: author.id }, reader.token), "follow");
    for (let p = 0; p < posts; p++) {
      const attachments = [];
      if (a < authors) {
        const ids = await Promise.all(
          Array.from({ length: 1 + ((a + p) % 4) }, (_, m) => upload(c, author.token, small[m] as Buffer)),
        );
        await readyTimes(db, ids, 120_000);
        attachments.push(...ids.map((mediaId) => ({ mediaId })));
        mediaCount += ids.length;
      }
      const r = await gql(
        c.gql,
        "mutation($i: CreatePostInput!) { createPost(input: $i) { id } }",
        { i: { text: `post ${p} of ${a}`, attachments } },
        author.token,
      );
      need(r, "createPost");
    }
  }
  // Both timelines hold every post (the fan-out runs in the consumers).
  for (const r of [withMedia, without]) {
    for (let t0 = Date.now(); ; ) {
      const page = need<{ edges: unknown[] }>(await gql(c.gql, FEED, {}, r.token), "feed");
      if (page.edges.length >= authors * posts) break;
      if (Date.now() - t0 > 60_000) throw new Error("the timelines were not built");
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  const pages = size.pages;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const cpuPerPage = async (token: string) => {
    const rpc0 = await metric(c.metrics, "nova_rpc_client_handled_total", { caller: "gateway" });
    const db0 = await metric(c.metrics, "nova_db_queries_total");
    const cpu = meter.start();
    for (let i = 0; i < pages; i++) need(await gql(c.gql, FEED, {}, token), "feed");
    const used = cpu();
    return {
      nova: r2((used.nova ?? 0) / pages),
      postgres: r2((used.postgres ?? 0) / pages),
      by_group: cpuPerUnit(used, pages, 2),
      rpcs: r2(((await metric(c.metrics, "nova_rpc_client_handled_total", { caller: "gateway" })) - rpc0) / pages),
      queries: r2(((await metric(c.metrics, "nova_db_queries_total")) - db0) / pages),
    };
  };
  // Warm both (caches, prepared statements), then alternate.
  await cpuPerPage(without.token);
  await cpuPerPage(withMedia.token);
  const rounds = [];
  for (let round = 1; round <= size.rounds; round++) {
    const none = await cpuPerPage(without.token);
    const some = await cpuPerPage(withMedia.token);
    const ratio = r2((some.nova + some.postgres) / (none.nova + none.postgres));
    say(
      `feed round ${round}: CPU ms/page without media ${JSON.stringify(none)}, with 1–4 media ${JSON.stringify(some)}: ${ratio}x`,
    );
    rounds.push({ cpu_ms_per_page_without_media: none, cpu_ms_per_page_with_media: some, ratio });
  }
  return { posts_per_page: authors * posts, media_on_page: mediaCount, pages_per_round: pages, rounds };
}

async function embeddedMode(s: Awaited<ReturnType<typeof ensureServices>>, files: Buffer[], size: Size, procs: Proc[]) {
  const db = await scratchDatabase(s.postgres, { poolMax: 2, applicationName: "bench-media" });
  // Its own data folder (the fs store's photos), removed afterwards.
  const dataDir = join(root, ".nova-bench", `media-${randomBytes(3).toString("hex")}`);
  let p: Proc | undefined;
  try {
    const port = await freePort();
    const admin = await freePort();
    p = nova(["start"], {
      ...OPEN,
      DATABASE_URL: overPrimarySocket(db.url(s.postgres)),
      PORT: String(port),
      ADMIN_PORT: String(admin),
      NOVA_DATA_DIR: dataDir,
    });
    const started = p;
    procs.push(p);
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/healthz`, p, 120_000);
    const meter = processMeter(() => ({ nova: [started.child.pid] }));
    const gqlUrl = `${base}/graphql`;
    const tokens = [];
    for (let i = 0; i < 4; i++) tokens.push((await register(gqlUrl, "uploader")).token);
    const c = { gql: gqlUrl, base, tokens, metrics: `http://127.0.0.1:${admin}/metrics` };
    const m = PARTS.includes("uploads")
      ? await measureMode("embedded", c, db, meter, files, size, () => started.child.pid)
      : undefined;
    const feed = PARTS.includes("feed") ? await feedWithMedia(c, db, meter, size) : undefined;
    return { ...m, feed };
  } finally {
    if (p) await stop(p);
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The distributed run's database (migrated) and certificates, made while the photos are. */
async function prepareDistributed(s: Awaited<ReturnType<typeof ensureServices>>) {
  const db = await scratchDatabase(s.postgres, { poolMax: 2, applicationName: "bench-media" });
  const tls = join(root, ".nova-bench", "tls");
  const certs = nova(["certs", "dev", "--out", tls], {});
  await new Promise((r) => certs.child.once("exit", r));
  const migrate = nova(["migrate"], { DATABASE_URL: db.url(s.postgres) });
  await new Promise((r) => migrate.child.once("exit", r));
  return { db, tls };
}

async function distributedMode(
  s: Awaited<ReturnType<typeof ensureServices>>,
  prepared: Promise<{ db: ScratchDb; tls: string }>,
  files: Buffer[],
  size: Size,
  procs: Proc[],
) {
  const { db, tls } = await prepared;
  const mine: Proc[] = [];
  try {
    // identity and media in their own processes (media's RSS is measured alone), the gateway's other services in one.
    const others = ["graph", "content", "feed", "messaging", "notifications", "search"];
    const backends = ["identity", "media", others.join(",")];
    const ports = Object.fromEntries(await Promise.all(backends.map(async (m) => [m, await freePort()] as const)));
    for (const m of others) ports[m] = ports[others.join(",")] as number;
    const { generateDevCerts } = await import("../src/platform/rpc/tls.ts");
    generateDevCerts(tls, { [others.join("+")]: others });
    const common = {
      ...OPEN,
      DATABASE_URL: db.url(s.postgres),
      DATABASE_READ_URL: db.url(s.replica),
      KAFKA_BROKERS: s.kafka,
      REDIS_URL: s.redis,
      NOVA_TLS_DIR: tls,
      S3_ENDPOINT: s.s3.endpoint,
      S3_REGION: s.s3.region,
      S3_BUCKET: `nova-bench-media-${randomBytes(4).toString("hex")}`,
      S3_ACCESS_KEY_ID: s.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s.s3.secretAccessKey,
      ...Object.fromEntries(
        Object.entries(ports)
          .filter(([m]) => !m.includes(","))
          .map(([m, p]) => [`${m.toUpperCase()}_ADDR`, `https://127.0.0.1:${p}`]),
      ),
    };
    const serve = async (target: string, env: Record<string, string> = {}) => {
      const admin = await freePort();
      const p = nova(["serve", `--target=${target}`], { ...common, ADMIN_PORT: String(admin), ...env });
      procs.push(p);
      mine.push(p);
      await waitHttp(`http://127.0.0.1:${admin}/healthz`, p, 120_000);
      return p;
    };
    const port = await freePort();
    const [gateway, ...rest] = await Promise.all([
      serve("gateway", { PORT: String(port) }),
      serve("relay"),
      ...backends.map((m) =>
        serve(m, {
          RPC_PORT: String(ports[m]),
          ...(m === "identity" ? { JWT_PRIVATE_KEY_FILE: join(tls, "jwt.key") } : {}),
        }),
      ),
    ]);
    const mediaProc = rest[1 + backends.indexOf("media")] as Proc;
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/healthz`, gateway as Proc, 120_000);
    say("distributed processes answer");
    const meter = processMeter(() => ({
      media: [mediaProc.child.pid],
      nova_other: mine.filter((p) => p !== mediaProc).map((p) => p.child.pid),
    }));
    const gqlUrl = `${base}/graphql`;
    const tokens = [];
    for (let i = 0; i < 4; i++) tokens.push((await register(gqlUrl, "uploader")).token);
    const m = await measureMode(
      "distributed",
      { gql: gqlUrl, base, tokens, metrics: "" },
      db,
      meter,
      files,
      size,
      () => mediaProc.child.pid,
    );
    await stop(...mine);
    return m;
  } finally {
    await stop(...mine);
    await db.drop();
  }
}

interface Size {
  rounds: number;
  /** Photos sent at once for the max rate (and made by the ceiling), and sent at half that rate. */
  max: number;
  half: number;
  feedAuthors: number;
  pages: number;
}

/** BENCH_MEDIA_PARTS="feed" (or "uploads") narrows a run, e.g. to profile one part; BENCH_MODES likewise. */
const PARTS = (process.env.BENCH_MEDIA_PARTS ?? "uploads,feed").split(",");
const MODES = (process.env.BENCH_MODES ?? "embedded,distributed").split(",");

const summary = (m: {
  rounds: { photos_per_s: number; ratio_to_ceiling: number; half_rate: { p99_ms: number } }[];
}) => ({
  photos_per_s: m.rounds.map((r) => r.photos_per_s),
  ratio_to_ceiling: m.rounds.map((r) => r.ratio_to_ceiling),
  p99_ms_at_half_rate: m.rounds.map((r) => r.half_rate.p99_ms),
});

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const started = Date.now();
  const s = await ensureServices();
  const procs: Proc[] = [];
  // 2304 × 1728: 4.0 megapixels. --quick: one round of everything, fewer photos and pages (under 90 s).
  const prepared = MODES.includes("distributed") ? prepareDistributed(s) : undefined;
  // Dropped whatever happens (distributedMode drops it too once it ran).
  const dropPrepared = () => prepared?.then((p) => p.db.drop()).catch(() => {});
  const files = await Promise.all(Array.from({ length: quick ? 2 : 6 }, (_, i) => photo(i, 2304, 1728)));
  const avgKb = Math.round(files.reduce((a, f) => a + f.length, 0) / files.length / 1024);
  say(`${files.length} photos of 2304×1728 made (${avgKb} KB on average)`);
  const size: Size = quick
    ? { rounds: 1, max: 4, half: 3, feedAuthors: 2, pages: 40 }
    : { rounds: 2, max: 16, half: 12, feedAuthors: 4, pages: 300 };
  try {
    await ceiling(files, 2); // warm-up: libvips' codecs loaded
    const embedded = MODES.includes("embedded") ? await embeddedMode(s, files, size, procs) : undefined;
    const distributed = prepared ? await distributedMode(s, prepared, files, size, procs) : undefined;
    return {
      quick,
      total_seconds: (Date.now() - started) / 1000,
      photo: { width: 2304, height: 1728, jpeg_kb_avg: avgKb },
      concurrency: CONCURRENCY,
      targets: TARGETS,
      embedded_summary: embedded?.rounds ? summary({ rounds: embedded.rounds }) : null,
      embedded_rss_peak_mb: embedded?.media_rss_peak_mb ?? null,
      distributed_summary: distributed ? summary(distributed) : null,
      distributed_media_rss_peak_mb: distributed?.media_rss_peak_mb ?? null,
      feed_media_cpu_ratio: embedded?.feed?.rounds.map((r) => r.ratio) ?? null,
      embedded,
      distributed,
    };
  } catch (err) {
    await dropPrepared();
    throw err;
  } finally {
    await stop(...procs);
  }
}
