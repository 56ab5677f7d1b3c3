import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { LEASE_MS, postPurgeConsumer, processingConsumer } from "./consumers.ts";
import type { MediaContext } from "./context.ts";
import { Semaphore } from "./process.ts";
import { purgeStale } from "./purge.ts";
import type { MediaTables } from "./queries.ts";
import { createMediaService } from "./service.ts";
import { openMediaStore, UPLOAD_PATH } from "./store.ts";
import { videoTools } from "./video.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
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
    uploadPath: UPLOAD_PATH,
  };
  const sem = new Semaphore(ctx.config.MEDIA_CONCURRENCY);
  const log = ctx.log.child({ component: "media" });
  if (!media.limits.video) log.warn("no ffmpeg/ffprobe here (MEDIA_FFMPEG, MEDIA_FFPROBE): video uploads are refused");
  // Uploads never completed, and refused ones, are deleted 24 hours after they were declared (purge.ts).
  const purge = async () => {
    try {
      const n = await purgeStale(media.writer, media.store, 86_400_000);
      if (n) log.info({ purged: n }, "purged stale uploads");
    } catch (err) {
      log.warn({ err }, "purge of stale uploads failed; will retry");
    }
  };
  const timer = setInterval(purge, 3_600_000);
  timer.unref();
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
  const resumer = setInterval(resume, LEASE_MS / 2);
  resumer.unref();
  return {
    services: [{ service: MediaService, impl: createMediaService(media) }],
    consumers: [processing, postPurgeConsumer(media)],
    async stop() {
      clearInterval(timer);
      clearInterval(resumer);
      await processing.stop();
      if ("close" in store) store.close();
    },
  };
}
