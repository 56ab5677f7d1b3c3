/** DeletePost: a soft delete by the author, a moderator or an admin (with the moderator's reason), with PostDeleted; the purge job removes it later. */
import { create } from "@bufbuild/protobuf";
import {
  type DeletePostRequest,
  type DeletePostResponse,
  DeletePostResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { text, uuid } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { postEvent, writePostEvents } from "../events.ts";
import { lockPostForDelete, softDeletePost } from "../queries.ts";

export async function deletePost(ctx: ContentContext, req: DeletePostRequest): Promise<DeletePostResponse> {
  const user = requireUser();
  const postId = uuid("postId", req.postId);
  const reason = text("reason", req.reason, { max: 1_000, multiline: true, optional: true });
  await ctx.writer.transaction().execute(async (trx) => {
    const row = await lockPostForDelete(trx, postId);
    if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
    if (row.author_id !== user.userId && !user.admin && !user.moderator) {
      throw new NovaError("FORBIDDEN", "only the author or an admin can delete a post", { field: "postId" });
    }
    await softDeletePost(trx, postId, user.userId, reason);
    await writePostEvents(
      ctx.outbox,
      trx,
      postEvent("PostDeleted", user.userId, {
        postId,
        authorId: row.author_id,
        deletedBy: user.userId,
        ...(reason ? { reason } : {}),
      }),
    );
  });
  await ctx.changed([postId]);
  return create(DeletePostResponseSchema, {});
}
