/** MarkPostSensitive: a moderator (or admin) marks a live post's media sensitive (optionally with a warning), with PostMarkedSensitive. */
import { create } from "@bufbuild/protobuf";
import {
  type MarkPostSensitiveRequest,
  type MarkPostSensitiveResponse,
  MarkPostSensitiveResponseSchema,
} from "../../../gen/nova/content/v1/content_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireModerator } from "../../../platform/rpc/authz.ts";
import { uuid } from "../../../platform/validate.ts";
import type { ContentContext } from "../context.ts";
import { postEvent, writePostEvents } from "../events.ts";
import { markPostSensitive as mark } from "../queries.ts";
import { validateContentWarning } from "../validation.ts";

export async function markPostSensitive(
  ctx: ContentContext,
  req: MarkPostSensitiveRequest,
): Promise<MarkPostSensitiveResponse> {
  const user = requireModerator();
  const postId = uuid("postId", req.postId);
  const warning = validateContentWarning("contentWarning", req.contentWarning);
  const changed = await ctx.writer.transaction().execute(async (trx) => {
    const r = await mark(trx, postId, warning);
    if (!r) throw new NovaError("NOT_FOUND", "post not found", { field: "postId" });
    if (r.changed) {
      await writePostEvents(
        ctx.outbox,
        trx,
        postEvent("PostMarkedSensitive", user.userId, { postId, authorId: r.author_id, markedBy: user.userId }),
      );
    }
    return r.changed;
  });
  if (changed) await ctx.changed([postId]);
  return create(MarkPostSensitiveResponseSchema, { changed });
}
