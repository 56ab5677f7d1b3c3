/** ListOwnLikes: the live posts the caller liked, with when (what their data export holds). */
import { create } from "@bufbuild/protobuf";
import {
  type ListOwnLikesRequest,
  type ListOwnLikesResponse,
  ListOwnLikesResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, ID, keysetPage, LIST, pageSize } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { ContentContext } from "../context.ts";
import { ownLikesQuery } from "../queries.ts";

export async function listOwnLikes(ctx: ContentContext, req: ListOwnLikesRequest): Promise<ListOwnLikesResponse> {
  const user = requireUser();
  const limit = pageSize(req.limit, LIST);
  const after = decodeCursor(req.cursor, ID);
  const page = await keysetPage(ownLikesQuery(ctx.reader, user.userId), {
    key: "l.post_id",
    after,
    limit,
    order: "asc",
    position: (l) => l.post_id,
  });
  return create(ListOwnLikesResponseSchema, {
    likes: page.rows.map((l) => ({ postId: l.post_id, likedAt: l.created_at.toISOString() })),
    nextCursor: page.nextCursor,
  });
}
