/**
 * ListPostLikers: who liked a visible post, newest like first. Which likers the viewer may see
 * (blocks) is the gateway's rules step, as for every list; the post itself is checked here.
 */
import { create } from "@bufbuild/protobuf";
import {
  type ListPostLikersRequest,
  type ListPostLikersResponse,
  ListPostLikersResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { decodeCursor, keysetPage, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { visiblePost } from "../access.ts";
import type { ContentContext } from "../context.ts";
import { likersQuery } from "../queries.ts";

export async function listPostLikers(ctx: ContentContext, req: ListPostLikersRequest): Promise<ListPostLikersResponse> {
  const postId = uuid("postId", req.postId);
  const limit = pageSize(req.limit, LIST);
  const after = decodeCursor(req.cursor, SEQ);
  await visiblePost(ctx, postId, optionalUser()?.userId);
  const page = await keysetPage(likersQuery(ctx.reader, postId), {
    key: "l.seq",
    after,
    limit,
    position: (l) => l.seq,
  });
  return create(ListPostLikersResponseSchema, {
    userIds: page.rows.map((l) => l.user_id),
    nextCursor: page.nextCursor,
    cursors: page.cursors,
  });
}
