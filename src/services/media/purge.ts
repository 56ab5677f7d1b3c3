/**
 * The periodic cleanup of uploads that went nowhere: media declared but never completed (PENDING)
 * and media refused (REJECTED, kept so the owner can read why) are deleted 24 hours after they were
 * declared, their blobs first, then their rows. Media that is READY stays (which of it no post uses
 * is content's knowledge: its cleanup is not done yet).
 */
import { sql } from "kysely";
import type { BlobStore } from "../../platform/storage/blobs.ts";
import type { MediaDb } from "./queries.ts";

export async function purgeStale(db: MediaDb, store: BlobStore, olderThanMs: number, batch = 500): Promise<number> {
  const rows = await db
    .selectFrom("media.media")
    .select("id")
    .where("state", "in", ["PENDING", "REJECTED"])
    .where("created_at", "<", sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
    .orderBy("created_at")
    .limit(batch)
    .execute();
  for (const { id } of rows) {
    const keys: string[] = [];
    for await (const key of store.list(`${id}/`)) keys.push(key);
    await store.delete(keys);
    await db.deleteFrom("media.media").where("id", "=", id).where("state", "in", ["PENDING", "REJECTED"]).execute();
  }
  return rows.length;
}
