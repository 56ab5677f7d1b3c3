import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import { ConfigError } from "../../runtime/config.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { LEASE_MS, mediaErasureConsumer, postPurgeConsumer, processingConsumer } from "./consumers.ts";
import { type MediaContext, mediaChanged, READY_MEDIA_CODEC, type ReadyMedia } from "./context.ts";
import { Semaphore } from "./process.ts";
import { checkOrphans, purgeStale, purgeUnattached } from "./purge.ts";
import type { MediaTables } from "./queries.ts";
import { createMediaService } from "./service.ts";
import { openMediaStore, UPLOAD_PATH } from "./store.ts";
import { videoTools } from "./video.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  // The fs store is a folder of this process, and only the gateway of this process serves it (and
  // checks its signed URLs, whose key is this process's): across processes it cannot work.
  if (ctx.mode === "distributed" && !ctx.config.s3) {
    throw new ConfigError([
      "S3_BUCKET: required for media in distributed mode (nova serve): the folder store under NOVA_DATA_DIR/media works only in one process; set S3_BUCKET (with S3_ENDPOINT and credentials of an S3-compatible store), or run every module in one process with nova start",
    ]);
  }
  const db = ctx.db().kysely<MediaTables>();
  const store = openMediaStore(ctx.config);
  // The bucket is made on first start (a provisioned one is left as it is).
  if ("ensureBucket" in store) await store.ensureBucket();
  const media: MediaContext = {
    writer: db.writer,
    reader: db.reader,
    outbox: ctx.outbox(),
    store,
    limits: {
      maxBytes: ctx.config.MEDIA_MAX_BYTES,
      maxPixels: ctx.config.MEDIA_MAX_PIXELS,
      video: videoTools(ctx.config, {
        maxBytes: ctx.config.MEDIA_VIDEO_MAX_BYTES,
        maxSeconds: ctx.config.MEDIA_VIDEO_MAX_S,
      }),
    },
    uploadExpiryS: ctx.config.MEDIA_UPLOAD_EXPIRY_S,
    readUrlExpiryS: 7 * 86_400,
    // Message media: a member's read of the message gets URLs that work for 15 minutes.
    privateUrlExpiryS: 900,
    uploadPath: UPLOAD_PATH,
    quota: { bytesPerDay: ctx.config.MEDIA_QUOTA_BYTES_PER_DAY, filesPerHour: ctx.config.MEDIA_QUOTA_FILES_PER_HOUR },
    ready: ctx.cache().entity<ReadyMedia>("media", "ready", 1, READY_MEDIA_CODEC),
  };
  const sem = new Semaphore(ctx.config.MEDIA_CONCURRENCY);
  const log = ctx.log.child({ component: "media" });
  if (!media.limits.video) log.warn("no ffmpeg/ffprobe here (MEDIA_FFMPEG, MEDIA_FFPROBE): video uploads are refused");
  // Uploads never completed, refused ones, and READY media never attached are deleted 24 hours on
  // (purge.ts); the orphan check runs every 6 hours, deleting blobs without a row once their media id
  // is 2 days old (far past any upload target's life) and reporting rows without blobs.
  const DAY = 86_400_000;
  const purge = async () => {
    try {
      const stale = await purgeStale(media.writer, media.store, DAY);
      const unattached = await purgeUnattached(media.writer, media.store, DAY);
      await mediaChanged(media, unattached);
      if (stale || unattached.length) log.info({ stale, unattached: unattached.length }, "purged unused uploads");
    } catch (err) {
      log.warn({ err }, "purge of unused uploads failed; will retry");
    }
  };
  const orphans = async () => {
    try {
      await checkOrphans(media.writer, media.store, 2 * DAY, log);
    } catch (err) {
      log.warn({ err }, "orphan check failed; will retry");
    }
  };
  // Uploads whose processing stopped (a crash between the claim and READY) are taken again.
  const processing = processingConsumer(media, sem, log);
  const resume = async () => {
    try {
      const n = await processing.resume();
      if (n) log.info({ resumed: n }, "resumed unfinished uploads");
    } catch (err) {
      log.warn({ err }, "resuming unfinished uploads failed; will retry");
    }
  };
  const timers = [
    setInterval(purge, 3_600_000),
    setInterval(orphans, 6 * 3_600_000),
    setInterval(resume, LEASE_MS / 2),
  ];
  for (const t of timers) t.unref();
  return {
    services: [{ service: MediaService, impl: createMediaService(media) }],
    consumers: [processing, postPurgeConsumer(media), mediaErasureConsumer(media)],
    async stop() {
      for (const t of timers) clearInterval(t);
      await processing.stop();
      if ("close" in store) store.close();
    },
  };
}
