/**
 * ListUserPosts: a user's live post ids, newest first; empty for a viewer in a block with the user, and
 * for one who does not follow the user's private account.
 */
import { create } from "@bufbuild/protobuf";
import {
  type ListUserPostsRequest,
  type ListUserPostsResponse,
  ListUserPostsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, ID, keysetPage, LIST, pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { authorClosed } from "../access.ts";
import type { ContentContext } from "../context.ts";
import { userPostsQuery } from "../queries.ts";

export async function listUserPosts(ctx: ContentContext, req: ListUserPostsRequest): Promise<ListUserPostsResponse> {
  const userId = uuid("userId", req.userId);
  const limit = pageSize(req.limit, LIST);
  const after = decodeCursor(req.cursor, ID);
  const viewer = optionalUser()?.userId;
  if (viewer && viewer !== userId && (await ctx.peers.blockedBetween(viewer, [userId])).has(userId)) {
    return create(ListUserPostsResponseSchema, { postIds: [], nextCursor: "" });
  }
  if (await authorClosed(ctx, viewer, userId))
    return create(ListUserPostsResponseSchema, { postIds: [], nextCursor: "" });
  const page = await keysetPage(userPostsQuery(ctx.reader, userId), {
    key: "p.id",
    after,
    limit,
    position: (x) => x.id,
  });
  return create(ListUserPostsResponseSchema, { postIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor });
}
