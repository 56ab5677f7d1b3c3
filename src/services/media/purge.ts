/**
 * The media service's cleanups, all run on a timer by the module:
 *
 * - `purgeStale`: media declared but never completed (PENDING) and media refused (REJECTED, kept so
 *   the owner can read why) are deleted 24 hours after they were declared, blobs first, then rows.
 * - `purgeUnattached`: READY media that no post or message took (AttachMedia never marked it) is
 *   deleted 24 hours after it became READY. Each row is locked while its blobs and then the row go,
 *   so an AttachMedia (which locks it too) either comes first and keeps it, or finds it gone.
 * - `checkOrphans`: lists the whole store against the rows. Blobs under a media id with no row are
 *   deleted once the id is older than a grace period (a media id is made before any of its blobs and
 *   its row before any URL to upload to, so nothing in flight is touched); rows whose blobs are
 *   missing cannot be mended here: they are counted in a gauge and logged.
 */
import { sql } from "kysely";
import type { Logger } from "pino";
import { counter, gauge } from "../../platform/observability/metrics.ts";
import { type BlobStore, deleteUnder } from "../../platform/storage/blobs.ts";
import { mediaIdOf } from "./keys.ts";
import type { MediaDb } from "./queries.ts";

const olderThan = (ms: number) => sql<Date>`now() - make_interval(secs => ${ms / 1000})`;

export async function purgeStale(db: MediaDb, store: BlobStore, olderThanMs: number, batch = 500): Promise<number> {
  const rows = await db
    .selectFrom("media.media")
    .select("id")
    .where("state", "in", ["PENDING", "REJECTED"])
    .where("created_at", "<", olderThan(olderThanMs))
    .orderBy("created_at")
    .limit(batch)
    .execute();
  for (const { id } of rows) {
    await deleteUnder(store, `${id}/`);
    await db.deleteFrom("media.media").where("id", "=", id).where("state", "in", ["PENDING", "REJECTED"]).execute();
  }
  return rows.length;
}

/** READY media never attached, `olderThanMs` after it became READY: blobs, then the row. Answers the ids deleted. */
export async function purgeUnattached(
  db: MediaDb,
  store: BlobStore,
  olderThanMs: number,
  batch = 500,
): Promise<string[]> {
  const deleted: string[] = [];
  for (let i = 0; i < batch; i++) {
    const id = await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("media.media")
        .select("id")
        .where("state", "=", "READY")
        .where("attached_at", "is", null)
        .where("updated_at", "<", olderThan(olderThanMs))
        .orderBy("updated_at")
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!row) return undefined;
      await deleteUnder(store, `${row.id}/`);
      await trx.deleteFrom("media.media").where("id", "=", row.id).execute();
      return row.id;
    });
    if (!id) break;
    deleted.push(id);
  }
  return deleted;
}

const orphansDeleted = counter("nova_media_orphan_blobs_deleted_total", "Blobs deleted because no media row owns them");
const missingBlobs = gauge(
  "nova_media_missing_blobs",
  "Variants of READY media whose blob was not in the store at the last orphan check",
);

export interface OrphanReport {
  /** Keys deleted: under media ids with no row, older than the grace period. */
  deleted: string[];
  /** Media ids (READY before the check began) with at least one variant blob missing. */
  missing: string[];
  /** Keys that are not the media service's (not under a media id): left alone. */
  foreign: number;
}

/** When a UUIDv7 was made (its first 48 bits), or undefined for another version. */
function v7Time(id: string): number | undefined {
  const hex = id.replace(/-/g, "");
  return hex[12] === "7" ? Number.parseInt(hex.slice(0, 12), 16) : undefined;
}

/** The ids among `ids` that have a row, asked 1,000 at a time. */
async function existingIds(db: MediaDb, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await db
      .selectFrom("media.media")
      .select("id")
      .where("id", "in", ids.slice(i, i + 1000))
      .execute();
    for (const r of rows) found.add(r.id);
  }
  return found;
}

/** The media ids of READY rows (READY before `before`) whose variant blobs are not all among `keys`. */
async function missingOf(db: MediaDb, keys: Set<string>, before: Date): Promise<string[]> {
  const missing = new Set<string>();
  let after = "";
  for (;;) {
    const page = await db
      .selectFrom("media.variants as v")
      .innerJoin("media.media as m", "m.id", "v.media_id")
      .select(["v.blob_key", "v.media_id"])
      .where("m.state", "=", "READY")
      .where("m.updated_at", "<", before)
      .where("v.blob_key", ">", after)
      .orderBy("v.blob_key")
      .limit(1000)
      .execute();
    for (const v of page) if (!keys.has(v.blob_key)) missing.add(v.media_id);
    if (page.length < 1000) break;
    after = page[page.length - 1]?.blob_key ?? after;
  }
  return [...missing];
}

export async function checkOrphans(
  db: MediaDb,
  store: BlobStore,
  graceMs: number,
  log?: Logger,
): Promise<OrphanReport> {
  const started = new Date();
  const keys = new Set<string>();
  const byId = new Map<string, string[]>();
  let foreign = 0;
  for await (const key of store.list("")) {
    keys.add(key);
    const id = mediaIdOf(key);
    if (!id) {
      foreign += 1;
      continue;
    }
    byId.set(id, [...(byId.get(id) ?? []), key]);
  }
  const owned = await existingIds(db, [...byId.keys()]);
  const deleted: string[] = [];
  for (const [id, under] of byId) {
    const made = v7Time(id);
    if (owned.has(id) || made === undefined || made > started.getTime() - graceMs) continue;
    await store.delete(under);
    deleted.push(...under);
  }
  const missing = await missingOf(db, keys, started);
  orphansDeleted.inc(deleted.length);
  missingBlobs.set(missing.length);
  if (deleted.length) log?.info({ deleted: deleted.length, sample: deleted.slice(0, 10) }, "deleted orphan blobs");
  if (missing.length) {
    log?.warn({ missing: missing.length, sample: missing.slice(0, 10) }, "media rows whose blobs are missing");
  }
  return { deleted, missing, foreign };
}
