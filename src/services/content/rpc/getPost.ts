/** GetPost: one live post the viewer may see (signed out: any live post). */
import { create } from "@bufbuild/protobuf";
import {
  type GetPostRequest,
  type GetPostResponse,
  GetPostResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { visiblePost } from "../access.ts";
import type { ContentContext } from "../context.ts";
import { toPost } from "../messages.ts";

export async function getPost(ctx: ContentContext, req: GetPostRequest): Promise<GetPostResponse> {
  const postId = uuid("postId", req.postId);
  return create(GetPostResponseSchema, { post: toPost(await visiblePost(ctx, postId, optionalUser()?.userId)) });
}
