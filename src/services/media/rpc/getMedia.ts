import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetMediaRequest, GetMediaResponseSchema } from "../../../gen/nova/media/v1/media_pb.ts";
import { invalid } from "../../../platform/errors.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid, uuids } from "../../../platform/validate.ts";
import { type MediaContext, present } from "../context.ts";
import { type MediaRow, mediaByIds, variantsOf } from "../queries.ts";

/**
 * GetMedia: up to 100 media by id, in the order asked, in two queries (rows, variants) whatever
 * the count. READY post media is visible to every caller (it is what posts show); READY message
 * media only through its own conversation (the gateway names it for a message messaging gave a
 * member: messaging decides membership, media only matches the conversation); media that is not
 * ready only to its owner, who polls it after completing. From the primary: the owner's poll must
 * see the state the consumer just committed.
 */
export async function getMedia(
  ctx: MediaContext,
  req: GetMediaRequest,
): Promise<MessageInitShape<typeof GetMediaResponseSchema>> {
  const viewer = optionalUser()?.userId;
  const ids = uuids("mediaIds", req.mediaIds, 100, "a media id");
  const through = conversationsOf(ids, req.conversationIds);
  const visible = (r: MediaRow) =>
    r.owner_id === viewer ||
    (r.state === "READY" && (r.purpose === "POST" || (!!r.conversation_id && through.get(r.id) === r.conversation_id)));
  const rows = (await mediaByIds(ctx.writer, ids)).filter(visible);
  const variants = await variantsOf(
    ctx.writer,
    rows.filter((r) => r.state === "READY").map((r) => r.id),
  );
  return { media: await present(ctx, rows, variants, viewer) };
}

/** media id -> the conversation the caller reads it through (none when conversationIds is empty). */
function conversationsOf(ids: string[], conversationIds: string[]): Map<string, string> {
  if (conversationIds.length === 0) return new Map();
  if (conversationIds.length !== ids.length) throw invalid("conversationIds", "must be empty or one per media id");
  return new Map(ids.map((id, i) => [id, uuid(`conversationIds[${i}]`, conversationIds[i] ?? "")]));
}
