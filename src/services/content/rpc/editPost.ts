/**
 * EditPost: only the author edits; the replaced text goes to the history and PostEdited is written,
 * in the transaction that holds the post's row lock. An edit to the same text changes nothing. The
 * content warning and the sensitive flag change when given (a warning keeps the post sensitive).
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
import { type ContentTrx, lockPostForEdit, type PostRow, replacePostText, setPostWarning } from "../queries.ts";
import { LIMITS, parseHashtags, validateContentWarning, validateText } from "../validation.ts";

export async function editPost(ctx: ContentContext, req: EditPostRequest): Promise<EditPostResponse> {
  const user = requireUser();
  const postId = uuid("postId", req.postId);
  // Empty text is allowed here only for a post with media, which the row tells.
  const text = validateText("text", req.text, LIMITS.postTextMax, true);
  const warning =
    req.contentWarning === undefined ? undefined : validateContentWarning("contentWarning", req.contentWarning);
  const post = await ctx.writer.transaction().execute(async (trx) => {
    const row = await lockPostForEdit(trx, postId);
    if (!row) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
    if (row.author_id !== user.userId) {
      throw new NovaError("FORBIDDEN", "only the author can edit a post", { field: "postId" });
    }
    if (text === "" && row.media.length === 0 && (row.attachments ?? []).length === 0)
      throw new NovaError("VALIDATION_FAILED", "text: is required", { field: "text" });
    const warned = await editWarning(trx, row, warning, req.sensitive);
    if (row.text === text) return warned;
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

/** The warning and the flag as asked; unsensitive with a warning is refused, naming `sensitive`. */
async function editWarning(
  trx: ContentTrx,
  row: PostRow,
  warning: string | undefined,
  sensitive: boolean | undefined,
): Promise<PostRow> {
  if (warning === undefined && sensitive === undefined) return row;
  const nextWarning = warning ?? row.content_warning ?? "";
  if (sensitive === false && nextWarning !== "") {
    throw new NovaError("VALIDATION_FAILED", "sensitive: a post with a content warning stays sensitive", {
      field: "sensitive",
    });
  }
  const nextSensitive = sensitive ?? (nextWarning !== "" || (row.sensitive ?? false));
  if (nextWarning === (row.content_warning ?? "") && nextSensitive === (row.sensitive ?? false)) return row;
  return setPostWarning(trx, row.id, nextWarning, nextSensitive);
}
