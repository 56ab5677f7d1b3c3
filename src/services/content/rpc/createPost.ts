/**
 * CreatePost: validate the text and the uploaded media (the old client-URL items are refused), parse hashtags and @mentions, refuse a mention across a
 * block, then write the post, its counters row, PostCreated and one Mentioned per mentioned user in
 * one transaction.
 */
import { create } from "@bufbuild/protobuf";
import {
  type CreatePostRequest,
  type CreatePostResponse,
  CreatePostResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireVerifiedUser } from "../../../platform/rpc/context.ts";
import type { ContentContext } from "../context.ts";
import { postEvent, writePostEvents } from "../events.ts";
import { mentionedIds } from "../mentions.ts";
import { toPost } from "../messages.ts";
import { insertPost } from "../queries.ts";
import {
  type AttachmentInput,
  LIMITS,
  parseHashtags,
  validateAttachments,
  validateContentWarning,
  validateMedia,
  validateText,
} from "../validation.ts";

export async function createPost(ctx: ContentContext, req: CreatePostRequest): Promise<CreatePostResponse> {
  const user = requireVerifiedUser();
  const text = validateText("text", req.text, LIMITS.postTextMax, req.media.length > 0 || req.attachments.length > 0);
  // Expand-contract: old posts keep their client-supplied URL items, new posts cannot make them.
  const media = validateMedia(req.media);
  if (media.length > 0) {
    throw new NovaError(
      "VALIDATION_FAILED",
      "media: client-supplied media URLs are no longer accepted for new posts; upload with createUpload and pass attachments",
      { field: "media" },
    );
  }
  const contentWarning = validateContentWarning("contentWarning", req.contentWarning);
  const attachments = await ownReadyMedia(ctx, user.userId, validateAttachments(req.attachments));
  const hashtags = parseHashtags(text);
  const mentionIds = await mentionedIds(ctx, user.userId, text);
  const post = await ctx.writer.transaction().execute(async (trx) => {
    const row = await insertPost(trx, {
      authorId: user.userId,
      text,
      media,
      attachments,
      // A warning hides the media too (as Mastodon's spoiler text does).
      sensitive: req.sensitive || contentWarning !== "",
      contentWarning,
      hashtags,
      mentionIds,
    });
    await writePostEvents(
      ctx.outbox,
      trx,
      postEvent("PostCreated", user.userId, {
        postId: row.id,
        authorId: user.userId,
        text,
        hashtags,
        mentionIds,
        mediaCount: media.length + attachments.length,
        createdAt: row.created_at,
      }),
      ...mentionIds.map((id) =>
        postEvent("Mentioned", user.userId, { postId: row.id, authorId: user.userId, mentionedId: id }),
      ),
    );
    return row;
  });
  return create(CreatePostResponseSchema, { post: toPost(post) });
}

/**
 * A post carries only its author's own processed media: each id must be the caller's, READY (one
 * GetMedia for all of them). Someone else's media is FORBIDDEN (or unknown: NOT_FOUND), media still
 * being processed MEDIA_NOT_READY, each naming the item's field.
 */
async function ownReadyMedia(
  ctx: ContentContext,
  authorId: string,
  items: AttachmentInput[],
): Promise<AttachmentInput[]> {
  if (items.length === 0) return items;
  const found = await ctx.peers.mediaOf(items.map((a) => a.mediaId));
  items.forEach((a, i) => {
    const field = `attachments[${i}].mediaId`;
    const m = found.get(a.mediaId);
    if (!m) throw new NovaError("NOT_FOUND", `${field}: no such media`, { field });
    if (m.ownerId !== authorId) throw new NovaError("FORBIDDEN", `${field}: this media is someone else's`, { field });
    if (m.state !== "READY") throw new NovaError("MEDIA_NOT_READY", `${field}: the media is ${m.state}`, { field });
  });
  // Kept from now on (the cleanup of unattached media leaves it); refused when uploaded for messages.
  await ctx.peers.attachMedia(items.map((a) => a.mediaId));
  return items;
}
