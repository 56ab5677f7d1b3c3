/**
 * EditPost: only the author edits; the replaced text goes to the history and PostEdited is written,
 * in the transaction that holds the post's row lock. An edit to the same text changes nothing.
 */
import { create } from "@bufbuild/protobuf";
import {
  type EditPostRequest,
  type EditPostResponse,
  EditPostResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { postEvent, writePostEvents } from "../events.ts";
import { toPost } from "../messages.ts";
import { lockPostForEdit, replacePostText } from "../queries.ts";
import { LIMITS, parseHashtags, validateText } from "../validation.ts";

export async function editPost(ctx: ContentContext, req: EditPostRequest): Promise<EditPostResponse> {
  const user = requireUser();
  const postId = uuid("postId", req.postId);
  // Empty text is allowed here only for a post with media, which the row tells.
  const text = validateText("text", req.text, LIMITS.postTextMax, true);
  const post = await ctx.writer.transaction().execute(async (trx) => {
    const row = await lockPostForEdit(trx, postId);
    if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
    if (row.author_id !== user.userId) {
      throw new NovaError("FORBIDDEN", "only the author can edit a post", { field: "postId" });
    }
    if (text === "" && row.media.length === 0 && (row.attachments ?? []).length === 0)
      throw new NovaError("VALIDATION_FAILED", "text: is required", { field: "text" });
    if (row.text === text) return row;
    const hashtags = parseHashtags(text);
    const edited = await replacePostText(trx, postId, row.text, text, hashtags);
    await writePostEvents(
      ctx.outbox,
      trx,
      postEvent("PostEdited", user.userId, { postId, authorId: user.userId, text, hashtags }),
    );
    return edited;
  });
  await ctx.changed([postId]);
  return create(EditPostResponseSchema, { post: toPost(post) });
}
