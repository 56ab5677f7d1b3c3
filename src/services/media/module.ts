import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { postPurgeConsumer, processingConsumer } from "./consumers.ts";
import type { MediaContext } from "./context.ts";
import { Semaphore } from "./process.ts";
import { purgeStale } from "./purge.ts";
import type { MediaTables } from "./queries.ts";
import { createMediaService } from "./service.ts";
import { openMediaStore, UPLOAD_PATH } from "./store.ts";

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
    limits: { maxBytes: ctx.config.MEDIA_MAX_BYTES, maxPixels: ctx.config.MEDIA_MAX_PIXELS },
    uploadExpiryS: ctx.config.MEDIA_UPLOAD_EXPIRY_S,
    readUrlExpiryS: 7 * 86_400,
    // Message media: a member's read of the message gets URLs that work for 15 minutes.
    privateUrlExpiryS: 900,
    uploadPath: UPLOAD_PATH,
    quota: { bytesPerDay: ctx.config.MEDIA_QUOTA_BYTES_PER_DAY, filesPerHour: ctx.config.MEDIA_QUOTA_FILES_PER_HOUR },
  };
  const sem = new Semaphore(ctx.config.MEDIA_CONCURRENCY);
  const log = ctx.log.child({ component: "media" });
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
  return {
    services: [{ service: MediaService, impl: createMediaService(media) }],
    consumers: [processingConsumer(media, sem, log), postPurgeConsumer(media)],
    async stop() {
      clearInterval(timer);
      if ("close" in store) store.close();
    },
  };
}
