import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetMediaRequest, GetMediaResponseSchema, Media } from "../../../gen/nova/media/v1/media_pb.ts";
import { invalid } from "../../../platform/errors.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid, uuids } from "../../../platform/validate.ts";
import { type MediaContext, present, presentPublic, type ReadyMedia } from "../context.ts";
import { type MediaDb, type MediaRow, mediaByIds, variantsOf } from "../queries.ts";

/**
 * GetMedia: up to 100 media by id, in the order asked, in two queries (rows, variants) whatever
 * the count. READY post media is visible to every caller (it is what posts show); READY message
 * media only through its own conversation (the gateway names it for a message messaging gave a
 * member: messaging decides membership, media only matches the conversation); media that is not
 * ready only to its owner, who polls it after completing. READY media comes through the cache
 * (loaded from the primary); the rest from the primary: the owner's poll must see the state the
 * consumer just committed.
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
  const { ready, rest, restVariants } = await rowsOf(ctx, ids);
  const out: Media[] = [];
  for (const id of ids) {
    const cached = ready.get(id);
    const row = cached?.row ?? rest.get(id);
    if (!row || !visible(row)) continue;
    if (cached && row.purpose === "POST" && row.owner_id !== viewer) out.push(await presentPublic(ctx, cached));
    else out.push(...(await present(ctx, [row], cached?.variants ?? restVariants, viewer)));
  }
  return { media: out };
}

/** READY media from the cache, and the rest of `ids` (with the variants of its READY ones) from the primary. */
async function rowsOf(ctx: MediaContext, ids: string[]) {
  const ready = ctx.ready ? await ctx.ready.getMany(ids, (missing) => loadReady(ctx.writer, missing)) : new Map();
  // Not READY (or uncached): read now, never cached (a "not found" entry only sends it here).
  const rest = await mediaByIds(
    ctx.writer,
    ids.filter((id) => !ready.has(id)),
  );
  const restVariants = await variantsOf(
    ctx.writer,
    rest.filter((r) => r.state === "READY").map((r) => r.id),
  );
  return { ready: ready as Map<string, ReadyMedia>, rest: new Map(rest.map((r) => [r.id, r])), restVariants };
}

/** The cache's loader: the READY ones among `ids` with their variants (the others stay out). */
async function loadReady(db: MediaDb, ids: string[]): Promise<Map<string, ReadyMedia>> {
  const rows = (await mediaByIds(db, ids)).filter((r) => r.state === "READY");
  const variants = await variantsOf(
    db,
    rows.map((r) => r.id),
  );
  return new Map(rows.map((row) => [row.id, { row, variants: variants.filter((v) => v.media_id === row.id) }]));
}

/** media id -> the conversation the caller reads it through (none when conversationIds is empty). */
function conversationsOf(ids: string[], conversationIds: string[]): Map<string, string> {
  if (conversationIds.length === 0) return new Map();
  if (conversationIds.length !== ids.length) throw invalid("conversationIds", "must be empty or one per media id");
  return new Map(ids.map((id, i) => [id, uuid(`conversationIds[${i}]`, conversationIds[i] ?? "")]));
}
