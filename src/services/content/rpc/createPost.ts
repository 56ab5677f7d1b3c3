/**
 * CreatePost: validate the text and media, parse hashtags and @mentions, refuse a mention across a
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
import { toPost } from "../messages.ts";
import { insertPost } from "../queries.ts";
import { LIMITS, parseHashtags, parseMentions, validateMedia, validateText } from "../validation.ts";

export async function createPost(ctx: ContentContext, req: CreatePostRequest): Promise<CreatePostResponse> {
  const user = requireVerifiedUser();
  const text = validateText("text", req.text, LIMITS.postTextMax, req.media.length > 0);
  const media = validateMedia(req.media);
  const hashtags = parseHashtags(text);
  const mentionIds = await mentionedIds(ctx, user.userId, text);
  const post = await ctx.writer.transaction().execute(async (trx) => {
    const row = await insertPost(trx, { authorId: user.userId, text, media, hashtags, mentionIds });
    await writePostEvents(
      ctx.outbox,
      trx,
      postEvent("PostCreated", user.userId, {
        postId: row.id,
        authorId: user.userId,
        text,
        hashtags,
        mentionIds,
        mediaCount: media.length,
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

/** The ids of the existing users the text @mentions, the author left out; FORBIDDEN across a block. */
async function mentionedIds(ctx: ContentContext, authorId: string, text: string): Promise<string[]> {
  const mentioned = await ctx.peers.resolveUsernames(parseMentions(text));
  const ids = [...new Set([...mentioned.values()])].filter((id) => id !== authorId);
  if (ids.length && (await ctx.peers.blockedBetween(authorId, ids, true)).size > 0) {
    throw new NovaError("FORBIDDEN", "text: cannot mention a user across a block", { field: "text" });
  }
  return ids;
}
