/** The reads behind ListFollowers, ListFollowing, ListBlocked and ListMuted: keyset pages by `seq`, newest first. */
import { decodeCursor, LIST, pageSize, SEQ } from "../../platform/paging.ts";
import type { GraphDeps } from "./deps.ts";
import { followsPage, ownListPage } from "./queries.ts";
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

/** The caller's own blocks or mutes (only ever the caller's: the user comes from the claims). */
export async function listOwn(
  deps: GraphDeps,
  which: "blocked" | "muted",
  userId: string,
  req: { cursor: string; limit: number },
): Promise<{ userIds: string[]; nextCursor: string; cursors: string[] }> {
  const limit = pageSize(req.limit, LIST);
  const before = decodeCursor(req.cursor, SEQ);
  const page = await ownListPage(deps.db.reader, which, userId, before, limit);
  return { userIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor, cursors: page.cursors };
}
