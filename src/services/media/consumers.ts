/**
 * The media service's consumer `media.process`, on its own topic (nova.media.media):
 *
 * - MediaUploaded: hands the upload to the processor and returns, so the consumer's transaction
 *   (and the batch it belongs to) commits at once: no transaction is open while sharp runs. The
 *   processor claims the row (PROCESSING, committed at once, so the owner's poll sees it), decodes
 *   and re-encodes outside any transaction under the semaphore (process.ts), writes the variants to
 *   the store, and finishes in a short transaction: READY with the variants' rows and MediaProcessed,
 *   only if the row is still PROCESSING (locked), so a second run of the same upload (a redelivery,
 *   the resume sweep, another replica) writes the same keys and emits nothing: exactly once. A
 *   refused image is REJECTED with its code and field, and MediaRejected.
 * - An upload whose processing stopped (a crash, a store outage) stays UPLOADED or PROCESSING; the
 *   resume sweep (`resume`, run periodically by module.ts) takes those untouched for LEASE_MS again.
 * - MediaProcessed: deletes the raw upload (only once READY is committed, so a retry always finds it).
 * - MediaRejected: deletes every blob of the media (nothing refused stays stored).
 */
import type { Transaction } from "kysely";
import type { Logger } from "pino";
import { NovaError } from "../../platform/errors.ts";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { deleteUnder } from "../../platform/storage/blobs.ts";
import { POST_EVENTS } from "../content/events.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import { type MediaContext, mediaChanged, reject, uploadKey, variantKey } from "./context.ts";
import { MEDIA_EVENTS, MEDIA_TOPIC, mediaEvent } from "./events.ts";
import { type Processed, processImage, Semaphore } from "./process.ts";
import {
  claimForProcessing,
  deleteAllMediaOf,
  deleteOwnedMedia,
  type MediaRow,
  type MediaTables,
  markReady,
  mediaById,
  unfinishedClaims,
} from "./queries.ts";
import { processVideo } from "./video.ts";

const outcomes = counter("nova_media_processed_total", "Uploads processed, by outcome (ready or the reject code)", [
  "outcome",
]);

/** An upload claimed this long ago and not finished is taken again by the resume sweep. */
export const LEASE_MS = 120_000;

export interface ProcessingConsumer extends EventHandler {
  /** Resolves once every upload handed to the processor so far is finished (or has failed). */
  idle(): Promise<void>;
  /** The resume sweep: processes uploads whose processing stopped; answers how many it took. */
  resume(olderThanMs?: number): Promise<number>;
  /** Takes no new uploads and waits for those in flight (the ones queued are left to the sweep). */
  stop(): Promise<void>;
}

export function processingConsumer(ctx: MediaContext, sem: Semaphore, log: Logger): ProcessingConsumer {
  const p = processor(ctx, sem, log);
  return {
    name: "media.process",
    schema: "media",
    topics: [MEDIA_TOPIC],
    async handle(event, trx) {
      const t = trx as unknown as Transaction<MediaTables>;
      switch (event.type) {
        case "MediaUploaded": {
          const row = await mediaById(t, MEDIA_EVENTS.payload("MediaUploaded", event).mediaId);
          if (row && (row.state === "UPLOADED" || row.state === "PROCESSING")) p.start(row.id);
          return;
        }
        case "MediaProcessed":
          return ctx.store.delete([uploadKey(event.aggregate_id)]);
        case "MediaRejected":
          return deleteUnder(ctx.store, `${event.aggregate_id}/`);
      }
    },
    idle: p.idle,
    async resume(olderThanMs = LEASE_MS) {
      const ids = (await unfinishedClaims(ctx.writer, olderThanMs, 100)).filter((id) => !p.running(id));
      for (const id of ids) p.start(id);
      return ids.length;
    },
    stop: p.stop,
  };
}

/**
 * Runs uploads in the background, one run per media id at a time. The semaphore bounds the
 * decoding; `jobs` (twice its size) bounds the runs that hold bytes, so the store's reads and
 * writes overlap the decoding without letting a backlog's bytes pile up in memory.
 */
function processor(ctx: MediaContext, sem: Semaphore, log: Logger) {
  const inFlight = new Map<string, Promise<void>>();
  const jobs = new Semaphore(sem.size * 2);
  let stopping = false;
  const run = async (id: string) => {
    if (stopping) return;
    try {
      await processUpload(ctx, sem, log, id);
    } catch (err) {
      // A store or database failure: the row stays claimed and the resume sweep tries again.
      log.warn({ err, mediaId: id }, "processing failed; the resume sweep will retry");
    }
  };
  return {
    running: (id: string) => inFlight.has(id),
    start(id: string) {
      if (inFlight.has(id) || stopping) return;
      const done = jobs.run(() => run(id)).finally(() => inFlight.delete(id));
      inFlight.set(id, done);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all(inFlight.values());
    },
    async stop() {
      stopping = true;
      await Promise.all(inFlight.values());
    },
  };
}

async function processUpload(ctx: MediaContext, sem: Semaphore, log: Logger, id: string): Promise<void> {
  const row = await claimForProcessing(ctx.writer, id);
  if (!row) return;
  const bytes = await ctx.store.get(uploadKey(row.id));
  if (!bytes) return refuse(ctx, row, new NovaError("MEDIA_NOT_UPLOADED", undefined, { field: "id" }));
  let processed: Processed;
  try {
    const process = row.kind === "VIDEO" ? processVideo : processImage;
    processed = await sem.run(() => process(bytes, row.content_type, ctx.limits));
  } catch (err) {
    if (!(err instanceof NovaError)) throw err;
    log.info({ mediaId: row.id, code: err.code }, "upload rejected");
    return refuse(ctx, row, err);
  }
  // Same keys on every run: a second run overwrites the first's blobs with the same bytes' variants.
  await Promise.all(processed.variants.map((v) => ctx.store.put(variantKeyOf(row, v), v.bytes, v.contentType)));
  if (await finish(ctx, row, processed)) outcomes.inc({ outcome: "ready" });
}

/** The short transaction: READY, the variants' rows and MediaProcessed, once (false: another run finished it). */
/** Where a processed variant is kept (a message's media under `private/`). */
const variantKeyOf = (row: MediaRow, v: { name: string; contentType: string }) =>
  variantKey(row.id, v.name, { contentType: v.contentType, isPrivate: row.purpose === "MESSAGE" });

async function finish(ctx: MediaContext, row: MediaRow, processed: Processed): Promise<boolean> {
  const { width, height, blurhash, animated, durationMs } = processed;
  return ctx.writer.transaction().execute(async (trx) => {
    if ((await mediaById(trx, row.id, true))?.state !== "PROCESSING") return false;
    await markReady(
      trx,
      row.id,
      { width, height, blurhash, animated, durationMs },
      processed.variants.map((v) => ({
        name: v.name,
        blob_key: variantKeyOf(row, v),
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
        { mediaId: row.id, ownerId: row.owner_id, width, height, blurhash, animated, durationMs, variants },
        row.owner_id,
      ),
    );
    return true;
  });
}

/** REJECTED with the error's code and MediaRejected, in a short transaction (once: reject() checks the state). */
async function refuse(ctx: MediaContext, row: MediaRow, err: NovaError): Promise<void> {
  const done = await ctx.writer.transaction().execute(async (trx) => {
    const current = await mediaById(trx, row.id, true);
    if (current?.state !== "PROCESSING") return false;
    return reject(trx, ctx.outbox, current, err);
  });
  if (done) outcomes.inc({ outcome: err.code });
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
      for (const id of ids) await deleteUnder(ctx.store, `${id}/`);
      // Before the commit, but the cache deletes its copy again shortly after; the post is long
      // deleted by now (CONTENT_PURGE_AFTER_DAYS), so nothing reads these media meanwhile.
      await mediaChanged(ctx, ids);
      if (ids.length) purged.inc(ids.length);
    },
  };
}

/**
 * `media.erasure`: an erased account's media go, rows and blobs (identity's AccountErased). The rows
 * go in the consumer's transaction and the blobs after, as a purged post's: a redelivery after a
 * failure finds the blobs by the ids it still has, or nothing.
 */
export function mediaErasureConsumer(ctx: MediaContext): EventHandler {
  return erasureConsumer("media.erasure", "media", async (userId, trx) => {
    const t = trx as unknown as Transaction<MediaTables>;
    const ids = await deleteAllMediaOf(t, userId);
    for (const id of ids) await deleteUnder(ctx.store, `${id}/`);
    // No cache keeps an erased account's media (its rows name the owner).
    await mediaChanged(ctx, ids);
    if (ids.length) purged.inc(ids.length);
  });
}
