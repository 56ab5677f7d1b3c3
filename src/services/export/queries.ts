/** The export module's SQL over its one table: users' archives and their state. */
import type { Generated, Kysely, Transaction } from "kysely";
import { sql } from "kysely";

export type ArchiveStatus = "PENDING" | "READY" | "FAILED" | "EXPIRED";

interface ArchivesTable {
  id: Generated<string>;
  user_id: string;
  status: Generated<ArchiveStatus>;
  requested_at: Generated<Date>;
  ready_at: Date | null;
  expires_at: Date | null;
  blob_key: string | null;
  byte_size: Generated<string>;
}

export interface ExportTables {
  "export.archives": ArchivesTable;
}

export type ExportDb = Kysely<ExportTables>;
export type ExportTrx = Transaction<ExportTables>;

export interface ArchiveRow {
  id: string;
  user_id: string;
  status: ArchiveStatus;
  requested_at: Date;
  ready_at: Date | null;
  expires_at: Date | null;
  blob_key: string | null;
  byte_size: string;
}

const FIELDS = ["id", "user_id", "status", "requested_at", "ready_at", "expires_at", "blob_key", "byte_size"] as const;

/** Serializes one user's requests until the transaction ends (the check and the insert are one step). */
export async function lockUser(trx: ExportTrx, userId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`export:user:${userId}`}, 0))`.execute(trx);
}

/** The user's latest archive, an expired READY one answered as EXPIRED. */
export async function latestArchive(db: ExportDb, userId: string, now: Date): Promise<ArchiveRow | undefined> {
  const row = await db
    .selectFrom("export.archives")
    .select(FIELDS)
    .where("user_id", "=", userId)
    .orderBy("requested_at", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  if (row?.status === "READY" && row.expires_at && row.expires_at <= now) return { ...row, status: "EXPIRED" };
  return row;
}

export async function insertArchive(trx: ExportTrx, userId: string): Promise<ArchiveRow> {
  return trx.insertInto("export.archives").values({ user_id: userId }).returning(FIELDS).executeTakeFirstOrThrow();
}

export async function archiveById(db: ExportDb, id: string): Promise<ArchiveRow | undefined> {
  return db.selectFrom("export.archives").select(FIELDS).where("id", "=", id).executeTakeFirst();
}

/** PENDING -> READY with its blob; false when the row was not PENDING any more (a redelivered build). */
export async function markReady(
  trx: ExportTrx,
  id: string,
  blob: { key: string; size: number; readyAt: Date; expiresAt: Date },
): Promise<boolean> {
  const r = await trx
    .updateTable("export.archives")
    .set({
      status: "READY",
      blob_key: blob.key,
      byte_size: String(blob.size),
      ready_at: blob.readyAt,
      expires_at: blob.expiresAt,
    })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .executeTakeFirst();
  return r.numUpdatedRows === 1n;
}

export async function markFailed(db: ExportDb, id: string): Promise<void> {
  await db
    .updateTable("export.archives")
    .set({ status: "FAILED" })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .execute();
}

/** READY archives whose link has lapsed: their blobs are deleted and the rows marked EXPIRED. */
export async function lapsedArchives(
  db: ExportDb,
  now: Date,
  limit: number,
): Promise<{ id: string; blob_key: string }[]> {
  const rows = await db
    .selectFrom("export.archives")
    .select(["id", "blob_key"])
    .where("status", "=", "READY")
    .where("expires_at", "<=", now)
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, blob_key: r.blob_key ?? "" }));
}

export async function markExpired(db: ExportDb, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("export.archives")
    .set({ status: "EXPIRED", blob_key: null })
    .where("id", "in", ids)
    .where("status", "=", "READY")
    .execute();
}
