/**
 * GetPosts: live posts by id, in the order asked, through the cache. List hydration: who may see
 * them (blocks, mutes) is the gateway's rules step, over the relationships it hydrates anyway, so
 * this asks no one else.
 */
import { create } from "@bufbuild/protobuf";
import {
  type GetPostsRequest,
  type GetPostsResponse,
  GetPostsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { uuids } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { toPost } from "../messages.ts";
import { LIMITS } from "../validation.ts";

export async function getPosts(ctx: ContentContext, req: GetPostsRequest): Promise<GetPostsResponse> {
  const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
  const found = await ctx.cache.posts([...new Set(ids)]);
  const posts = ids.flatMap((id) => {
    const p = found.get(id);
    return p ? [toPost(p)] : [];
  });
  return create(GetPostsResponseSchema, { posts });
}
