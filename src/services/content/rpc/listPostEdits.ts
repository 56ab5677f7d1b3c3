/** ListPostEdits: a visible post's replaced texts, oldest first. */
import { create } from "@bufbuild/protobuf";
import {
  type ListPostEditsRequest,
  type ListPostEditsResponse,
  ListPostEditsResponseSchema,
  PostEditSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { visiblePost } from "../access.ts";
import type { ContentContext } from "../context.ts";
import { listEdits } from "../queries.ts";

export async function listPostEdits(ctx: ContentContext, req: ListPostEditsRequest): Promise<ListPostEditsResponse> {
  const postId = uuid("postId", req.postId);
  await visiblePost(ctx, postId, optionalUser()?.userId);
  const edits = await listEdits(ctx.reader, postId);
  return create(ListPostEditsResponseSchema, {
    edits: edits.map((e) => create(PostEditSchema, { text: e.text, replacedAt: e.replaced_at.toISOString() })),
  });
}
