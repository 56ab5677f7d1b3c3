/** The read behind ListFollowers and ListFollowing: a keyset page by follow `seq`, newest first. */
import { decodeCursor, LIST, pageSize, SEQ } from "../../platform/paging.ts";
import type { GraphDeps } from "./deps.ts";
import { followsPage } from "./queries.ts";
import { validateUserId } from "./validation.ts";

export async function listFollows(
  deps: GraphDeps,
  which: "followers" | "following",
  req: { userId: string; cursor: string; limit: number },
): Promise<{ userIds: string[]; nextCursor: string; cursors: string[] }> {
  const userId = validateUserId(req.userId);
  const limit = pageSize(req.limit, LIST);
  const before = decodeCursor(req.cursor, SEQ);
  const page = await followsPage(deps.db.reader, which, userId, before, limit);
  return { userIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor, cursors: page.cursors };
}
