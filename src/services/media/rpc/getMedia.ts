import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetMediaRequest, GetMediaResponseSchema } from "../../../gen/nova/media/v1/media_pb.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import { type MediaContext, present } from "../context.ts";
import { mediaByIds, variantsOf } from "../queries.ts";

/**
 * GetMedia: up to 100 media by id, in the order asked, in two queries (rows, variants) whatever
 * the count. READY media is visible to every caller (it is what posts show); media that is not
 * ready only to its owner, who polls it after completing. From the primary: the owner's poll must
 * see the state the consumer just committed.
 */
export async function getMedia(
  ctx: MediaContext,
  req: GetMediaRequest,
): Promise<MessageInitShape<typeof GetMediaResponseSchema>> {
  const viewer = optionalUser()?.userId;
  const ids = uuids("mediaIds", req.mediaIds, 100, "a media id");
  const rows = (await mediaByIds(ctx.writer, ids)).filter((r) => r.state === "READY" || r.owner_id === viewer);
  const variants = await variantsOf(
    ctx.writer,
    rows.filter((r) => r.state === "READY").map((r) => r.id),
  );
  return { media: await present(ctx, rows, variants, viewer) };
}
