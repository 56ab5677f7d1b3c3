import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { processingConsumer } from "./consumers.ts";
import type { MediaContext } from "./context.ts";
import { Semaphore } from "./process.ts";
import type { MediaTables } from "./queries.ts";
import { createMediaService } from "./service.ts";
import { openMediaStore, UPLOAD_PATH } from "./store.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const db = ctx.db().kysely<MediaTables>();
  const media: MediaContext = {
    writer: db.writer,
    reader: db.reader,
    outbox: ctx.outbox(),
    store: openMediaStore(ctx.config),
    limits: { maxBytes: ctx.config.MEDIA_MAX_BYTES, maxPixels: ctx.config.MEDIA_MAX_PIXELS },
    uploadExpiryS: ctx.config.MEDIA_UPLOAD_EXPIRY_S,
    readUrlExpiryS: 7 * 86_400,
    uploadPath: UPLOAD_PATH,
  };
  const sem = new Semaphore(ctx.config.MEDIA_CONCURRENCY);
  return {
    services: [{ service: MediaService, impl: createMediaService(media) }],
    consumers: [processingConsumer(media, sem, ctx.log.child({ component: "media" }))],
  };
}
