/**
 * The purge job (hourly, from module.ts): hard-deletes content soft-deleted more than
 * CONTENT_PURGE_AFTER_DAYS ago.
 */
import type { Outbox } from "../../platform/events/outbox.ts";
import { postEvent, writePostEvents } from "./events.ts";
import { type ContentDb, hardDeleteOldComments, hardDeletePosts, purgeablePosts, tryPurgeLock } from "./queries.ts";

/**
 * Hard-deletes content soft-deleted more than `olderThanMs` ago, in batches,
 * with a PostPurged event per post; one purger at a time (advisory lock).
 * Returns how many posts were purged.
 */
export async function purgeDeleted(db: ContentDb, outbox: Outbox, olderThanMs: number, batch = 200): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.transaction().execute(async (trx) => {
      if (!(await tryPurgeLock(trx))) return 0;
      const posts = await purgeablePosts(trx, olderThanMs, batch);
      if (posts.length === 0) return 0;
      await hardDeletePosts(
        trx,
        posts.map((p) => p.id),
      );
      await writePostEvents(
        outbox,
        trx,
        ...posts.map((p) =>
          postEvent("PostPurged", p.author_id, { postId: p.id, authorId: p.author_id, mediaIds: p.media_ids }),
        ),
      );
      return posts.length;
    });
    total += n;
    if (n < batch) break;
  }
  // Comments deleted long ago on live posts.
  await db.transaction().execute((trx) => hardDeleteOldComments(trx, olderThanMs));
  return total;
}
