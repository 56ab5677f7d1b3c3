import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AttachMediaRequest, AttachMediaResponseSchema } from "../../../gen/nova/media/v1/media_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { ATTACHMENT_LIMITS, uuid, uuids } from "../../../platform/validate.ts";
import { type MediaContext, mediaChanged } from "../context.ts";
import { type MediaRow, markAttached, mediaByIds } from "../queries.ts";

/**
 * AttachMedia: content (a post) and messaging (a message, with its conversation) call it as the
 * author before they store what names the media. Each item must be the caller's own READY media of
 * the right purpose; message media is bound to the first conversation it is sent to. The rows are
 * locked while checked and marked, so the cleanup of unattached media (purge.ts, which locks them
 * too) and an attachment never both win.
 */
export async function attachMedia(
  ctx: MediaContext,
  req: AttachMediaRequest,
): Promise<MessageInitShape<typeof AttachMediaResponseSchema>> {
  const user = requireUser().userId;
  const ids = uuids("attachments", req.mediaIds, ATTACHMENT_LIMITS.max, "a media id");
  const conversationId = req.conversationId ? uuid("conversationId", req.conversationId) : null;
  await ctx.writer.transaction().execute(async (trx) => {
    const rows = new Map((await mediaByIds(trx, ids, true)).map((r) => [r.id, r]));
    ids.forEach((id, i) => {
      checkAttachable(rows.get(id), user, conversationId, `attachments[${i}].mediaId`);
    });
    await markAttached(trx, ids, conversationId);
  });
  await mediaChanged(ctx, ids);
  return {};
}

function checkAttachable(m: MediaRow | undefined, user: string, conversationId: string | null, field: string): void {
  if (!m) throw new NovaError("NOT_FOUND", `${field}: no such media`, { field });
  if (m.owner_id !== user) throw new NovaError("FORBIDDEN", `${field}: this media is someone else's`, { field });
  if (m.state !== "READY") throw new NovaError("MEDIA_NOT_READY", `${field}: the media is ${m.state}`, { field });
  const wanted = conversationId ? "MESSAGE" : "POST";
  if (m.purpose !== wanted) {
    throw new NovaError(
      "MEDIA_WRONG_PURPOSE",
      `${field}: uploaded with purpose ${m.purpose}; a ${conversationId ? "message" : "post"} takes ${wanted} media`,
      { field },
    );
  }
  if (conversationId && m.conversation_id && m.conversation_id !== conversationId) {
    throw new NovaError("MEDIA_ALREADY_ATTACHED", undefined, { field });
  }
}
