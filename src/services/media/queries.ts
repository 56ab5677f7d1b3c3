/**
 * The media service's SQL over its tables (schema `media`, migrations/).
 */
import { type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";

export type MediaState = "PENDING" | "UPLOADED" | "PROCESSING" | "READY" | "REJECTED";
export type MediaPurpose = "POST" | "MESSAGE";

/** The tables, as node-postgres reads them (bigint as text). */
export type MediaTables = {
  "media.media": {
    id: string;
    owner_id: string;
    kind: string;
    state: Generated<MediaState>;
    content_type: string;
    byte_size: string;
    width: number | null;
    height: number | null;
    blurhash: string | null;
    animated: Generated<boolean>;
    duration_ms: number | null;
    reject_reason: string | null;
    reject_field: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    /** POST (public) or MESSAGE (private to the members of conversation_id). */
    purpose: Generated<MediaPurpose>;
    conversation_id: string | null;
    /** When AttachMedia first put it on a post or in a message (null: never attached). */
    attached_at: Date | null;
  };
  "media.variants": {
    media_id: string;
    name: string;
    blob_key: string;
    width: number;
    height: number;
    content_type: string;
    byte_size: string;
  };
};

export type MediaDb = Kysely<MediaTables>;
type Db = MediaDb | Transaction<MediaTables>;

export type MediaRow = Selectable<MediaTables["media.media"]>;
export type VariantRow = Selectable<MediaTables["media.variants"]>;

export async function insertMedia(
  db: Db,
  row: { id: string; ownerId: string; kind: string; contentType: string; byteSize: number; purpose: MediaPurpose },
): Promise<MediaRow> {
  return db
    .insertInto("media.media")
    .values({
      id: row.id,
      owner_id: row.ownerId,
      kind: row.kind,
      content_type: row.contentType,
      byte_size: String(row.byteSize),
      purpose: row.purpose,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Inside `trx`: serialises the uploads of one owner (a transaction-scoped advisory lock) and answers
 * what they declared lately: uploads in the last hour and bytes in the last 24 hours.
 */
export async function lockUploadUsage(
  trx: Transaction<MediaTables>,
  ownerId: string,
): Promise<{ filesLastHour: number; bytesLastDay: number }> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`media.quota:${ownerId}`}, 0))`.execute(trx);
  const r = await sql<{ files: string; bytes: string }>`SELECT
        count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS files,
        coalesce(sum(byte_size), 0) AS bytes
      FROM media.media WHERE owner_id = ${ownerId}::uuid AND created_at > now() - interval '24 hours'`.execute(trx);
  const row = r.rows[0];
  return { filesLastHour: Number(row?.files ?? 0), bytesLastDay: Number(row?.bytes ?? 0) };
}

/** One media row, locked for the rest of `trx` when `lock`. */
export async function mediaById(db: Db, id: string, lock = false): Promise<MediaRow | undefined> {
  let q = db.selectFrom("media.media").selectAll().where("id", "=", id);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** Media rows by id, in the order of `ids` (unknown ids left out), locked for the rest of `trx` when `lock`. */
export async function mediaByIds(db: Db, ids: string[], lock = false): Promise<MediaRow[]> {
  if (ids.length === 0) return [];
  let q = db.selectFrom("media.media").selectAll().where("id", "in", ids);
  if (lock) q = q.orderBy("id").forUpdate();
  const rows = await q.execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** The variants of these media: smallest first within each, then the original, then a video's stream. */
export async function variantsOf(db: Db, ids: string[]): Promise<VariantRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("media.variants")
    .selectAll()
    .where("media_id", "in", ids)
    .orderBy("media_id")
    .orderBy(sql`name = 'video'`)
    .orderBy(sql`name = 'original'`)
    .orderBy("width")
    .execute();
}

/** Moves a media row from one state to the next; false when it was not in `from` any more. */
export async function transition(db: Db, id: string, from: MediaState[], to: MediaState): Promise<boolean> {
  const r = await db
    .updateTable("media.media")
    .set({ state: to, updated_at: sql`now()` })
    .where("id", "=", id)
    .where("state", "in", from)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function markReady(
  db: Db,
  id: string,
  p: { width: number; height: number; blurhash: string; animated: boolean; durationMs?: number },
  variants: Omit<VariantRow, "media_id">[],
): Promise<void> {
  await db
    .insertInto("media.variants")
    .values(variants.map((v) => ({ ...v, media_id: id })))
    .execute();
  await db
    .updateTable("media.media")
    .set({
      state: "READY",
      width: p.width,
      height: p.height,
      blurhash: p.blurhash,
      animated: p.animated,
      duration_ms: p.durationMs ?? null,
      updated_at: sql`now()`,
    })
    .where("id", "=", id)
    .execute();
}

export async function markRejected(db: Db, id: string, reason: string, field: string): Promise<void> {
  await db
    .updateTable("media.media")
    .set({ state: "REJECTED", reject_reason: reason, reject_field: field, updated_at: sql`now()` })
    .where("id", "=", id)
    .execute();
}

/** Deletes `ownerId`'s media among `ids` (their variants go with them); answers the ids deleted. */
export async function deleteOwnedMedia(db: Db, ownerId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .deleteFrom("media.media")
    .where("owner_id", "=", ownerId)
    .where("id", "in", ids)
    .returning("id")
    .execute();
  return rows.map((r) => r.id);
}

/** Every media row of an erased owner (variants go with them); answers the ids, for their blobs. */
export async function deleteAllMediaOf(db: Db, ownerId: string): Promise<string[]> {
  const rows = await db.deleteFrom("media.media").where("owner_id", "=", ownerId).returning("id").execute();
  return rows.map((r) => r.id);
}

/**
 * Claims an upload for processing: PROCESSING with a fresh updated_at (the lease the resume sweep
 * reads). Answers the row, or undefined when it is READY or REJECTED already (nothing to do).
 */
export async function claimForProcessing(db: Db, id: string): Promise<MediaRow | undefined> {
  return db
    .updateTable("media.media")
    .set({ state: "PROCESSING", updated_at: sql`now()` })
    .where("id", "=", id)
    .where("state", "in", ["UPLOADED", "PROCESSING"])
    .returningAll()
    .executeTakeFirst();
}

/** Uploads completed or claimed, untouched for `olderThanMs`: their processing stopped (a crash). */
export async function unfinishedClaims(db: Db, olderThanMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("media.media")
    .select("id")
    .where("state", "in", ["UPLOADED", "PROCESSING"])
    .where("updated_at", "<", sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
    .orderBy("updated_at")
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** Marks media attached (the first time only), to `conversationId` when it is a message's. */
export async function markAttached(db: Db, ids: string[], conversationId: string | null): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("media.media")
    .set({ attached_at: sql`coalesce(attached_at, now())`, conversation_id: conversationId })
    .where("id", "in", ids)
    .execute();
}
