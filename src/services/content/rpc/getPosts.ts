/**
 * GetPosts: live posts by id, in the order asked, through the cache; posts of authors in a block
 * with the viewer are left out (asked of the graph, through its cached answer).
 */
import { create } from "@bufbuild/protobuf";
import {
  type GetPostsRequest,
  type GetPostsResponse,
  GetPostsResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { toPost } from "../messages.ts";
import { LIMITS } from "../validation.ts";

export async function getPosts(ctx: ContentContext, req: GetPostsRequest): Promise<GetPostsResponse> {
  const ids = uuids("postIds", req.postIds, LIMITS.batchMax);
  const found = await ctx.cache.posts([...new Set(ids)]);
  const viewer = optionalUser()?.userId;
  let hidden = new Set<string>();
  if (viewer) {
    const authors = [...new Set([...found.values()].map((p) => p.author_id).filter((a) => a !== viewer))];
    if (authors.length) hidden = await ctx.peers.blockedBetween(viewer, authors);
  }
  const posts = ids.flatMap((id) => {
    const p = found.get(id);
    return p && !hidden.has(p.author_id) ? [toPost(p)] : [];
  });
  return create(GetPostsResponseSchema, { posts });
}
