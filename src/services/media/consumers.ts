/**
 * The media service's consumer `media.process`, on its own topic (nova.media.media):
 *
 * - MediaUploaded: PROCESSING (committed at once, so the owner's poll sees it), then the bytes are
 *   decoded and re-encoded under the semaphore (process.ts), the variants written to the store, and
 *   READY with the variants' rows and MediaProcessed committed with the processed_events row. A
 *   redelivery finds the media READY or REJECTED and does nothing; a crash before the commit
 *   leaves it PROCESSING and the retry writes the same keys again. A refused image is REJECTED with
 *   its code and field, and MediaRejected.
 * - MediaProcessed: deletes the raw upload (only once READY is committed, so a retry always finds it).
 * - MediaRejected: deletes every blob of the media (nothing refused stays stored).
 */
import type { Transaction } from "kysely";
import type { Logger } from "pino";
import { NovaError } from "../../platform/errors.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { POST_EVENTS } from "../content/events.ts";
import { type MediaContext, reject, uploadKey, variantKey } from "./context.ts";
import { MEDIA_EVENTS, MEDIA_TOPIC, mediaEvent } from "./events.ts";
import { processImage, type Semaphore } from "./process.ts";
import { deleteOwnedMedia, type MediaTables, markReady, mediaById, transition } from "./queries.ts";

const outcomes = counter("nova_media_processed_total", "Uploads processed, by outcome (ready or the reject code)", [
  "outcome",
]);

export function processingConsumer(ctx: MediaContext, sem: Semaphore, log: Logger): EventHandler {
  return {
    name: "media.process",
    schema: "media",
    topics: [MEDIA_TOPIC],
    async handle(event, trx) {
      const t = trx as unknown as Transaction<MediaTables>;
      switch (event.type) {
        case "MediaUploaded":
          return processUploaded(ctx, sem, log, event, t);
        case "MediaProcessed":
          return ctx.store.delete([uploadKey(event.aggregate_id)]);
        case "MediaRejected":
          return deleteAll(ctx, event.aggregate_id);
      }
    },
  };
}

const purged = counter("nova_media_purged_total", "Media erased with the post that carried them");

/** content's purge of a post (after its soft-delete retention): the media it carried. */
const purgedPost = POST_EVENTS.reader({ PostPurged: { authorId: true, mediaIds: "optional" } });

/**
 * The media of a purged post go with it: their rows (only the author's own: a post can carry no
 * one else's) and every blob under them. Deleting blobs is repeatable, so a redelivery is harmless.
 */
export function postPurgeConsumer(ctx: MediaContext): EventHandler {
  return {
    name: "media.post-purge",
    schema: "media",
    topics: [POST_EVENTS.topic],
    async handle(event, trx) {
      const e = purgedPost(event);
      if (!e) return;
      const t = trx as unknown as Transaction<MediaTables>;
      const ids = await deleteOwnedMedia(t, e.payload.authorId, e.payload.mediaIds ?? []);
      for (const id of ids) await deleteAll(ctx, id);
      if (ids.length) purged.inc(ids.length);
    },
  };
}

async function deleteAll(ctx: MediaContext, id: string): Promise<void> {
  const keys: string[] = [];
  for await (const key of ctx.store.list(`${id}/`)) keys.push(key);
  await ctx.store.delete(keys);
}

async function processUploaded(
  ctx: MediaContext,
  sem: Semaphore,
  log: Logger,
  event: Envelope,
  trx: Transaction<MediaTables>,
): Promise<void> {
  const p = MEDIA_EVENTS.payload("MediaUploaded", event);
  const row = await mediaById(trx, p.mediaId);
  if (!row || (row.state !== "UPLOADED" && row.state !== "PROCESSING")) return;
  await transition(ctx.writer, row.id, ["UPLOADED"], "PROCESSING");
  const bytes = await ctx.store.get(uploadKey(row.id));
  if (!bytes) {
    await reject(trx, ctx.outbox, row, new NovaError("MEDIA_NOT_UPLOADED", undefined, { field: "id" }));
    outcomes.inc({ outcome: "MEDIA_NOT_UPLOADED" });
    return;
  }
  let processed: Awaited<ReturnType<typeof processImage>>;
  try {
    processed = await sem.run(() => processImage(bytes, row.content_type, ctx.limits));
  } catch (err) {
    if (!(err instanceof NovaError)) throw err;
    log.info({ mediaId: row.id, code: err.code }, "upload rejected");
    await reject(trx, ctx.outbox, row, err);
    outcomes.inc({ outcome: err.code });
    return;
  }
  for (const v of processed.variants)
    await ctx.store.put(variantKey(row.id, v.name, row.purpose === "MESSAGE"), v.bytes, v.contentType);
  const { width, height, blurhash, animated } = processed;
  await markReady(
    trx,
    row.id,
    { width, height, blurhash, animated },
    processed.variants.map((v) => ({
      name: v.name,
      blob_key: variantKey(row.id, v.name, row.purpose === "MESSAGE"),
      width: v.width,
      height: v.height,
      content_type: v.contentType,
      byte_size: String(v.bytes.length),
    })),
  );
  const variants = processed.variants.map((v) => ({ name: v.name, width: v.width, height: v.height }));
  await ctx.outbox.emit(
    trx as unknown as Transaction<unknown>,
    mediaEvent(
      "MediaProcessed",
      { mediaId: row.id, ownerId: row.owner_id, width, height, blurhash, animated, variants },
      row.owner_id,
    ),
  );
  outcomes.inc({ outcome: "ready" });
}
