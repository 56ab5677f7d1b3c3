/** ListBookmarks: the caller's bookmarks of live posts, newest first, with a cursor per item. */
import { create } from "@bufbuild/protobuf";
import {
  type ListBookmarksRequest,
  type ListBookmarksResponse,
  ListBookmarksResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, keysetPage, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { ContentContext } from "../context.ts";
import { bookmarksQuery } from "../queries.ts";

export async function listBookmarks(ctx: ContentContext, req: ListBookmarksRequest): Promise<ListBookmarksResponse> {
  const user = requireUser();
  const limit = pageSize(req.limit, LIST);
  const after = decodeCursor(req.cursor, SEQ);
  const page = await keysetPage(bookmarksQuery(ctx.reader, user.userId), {
    key: "b.seq",
    after,
    limit,
    position: (b) => b.seq,
  });
  return create(ListBookmarksResponseSchema, {
    postIds: page.rows.map((b) => b.post_id),
    nextCursor: page.nextCursor,
    cursors: page.cursors,
  });
}
