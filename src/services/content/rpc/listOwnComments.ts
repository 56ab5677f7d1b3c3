/** ListOwnComments: the caller's own live comments, oldest first (what their data export holds). */
import { create } from "@bufbuild/protobuf";
import {
  type ListOwnCommentsRequest,
  type ListOwnCommentsResponse,
  ListOwnCommentsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, ID, keysetPage, LIST, pageSize } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { ContentContext } from "../context.ts";
import { toComment } from "../messages.ts";
import { ownCommentsQuery } from "../queries.ts";

export async function listOwnComments(
  ctx: ContentContext,
  req: ListOwnCommentsRequest,
): Promise<ListOwnCommentsResponse> {
  const user = requireUser();
  const limit = pageSize(req.limit, LIST);
  const after = decodeCursor(req.cursor, ID);
  const page = await keysetPage(ownCommentsQuery(ctx.reader, user.userId), {
    key: "content.comments.id",
    after,
    limit,
    order: "asc",
    position: (c) => c.id,
  });
  return create(ListOwnCommentsResponseSchema, { comments: page.rows.map(toComment), nextCursor: page.nextCursor });
}
