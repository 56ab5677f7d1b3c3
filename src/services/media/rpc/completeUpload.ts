import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Transaction } from "kysely";
import type { CompleteUploadRequest, CompleteUploadResponseSchema } from "../../../gen/nova/media/v1/media_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { type MediaContext, present, reject, uploadKey } from "../context.ts";
import { mediaEvent } from "../events.ts";
import { inspect } from "../process.ts";
import { type MediaRow, mediaById, transition } from "../queries.ts";
import { probeVideo } from "../video.ts";

/** The caller's own PENDING upload, or the coded error that says why not. */
export async function ownPendingUpload(ctx: MediaContext, mediaId: string, field = "id"): Promise<MediaRow> {
  const user = requireUser().userId;
  const id = uuid(field, mediaId, "a media id");
  const row = await mediaById(ctx.writer, id);
  if (!row) throw new NovaError("NOT_FOUND", `${field}: no such media`, { field });
  if (row.owner_id !== user) throw new NovaError("FORBIDDEN", `${field}: this media is someone else's`, { field });
  if (row.state !== "PENDING") throw new NovaError("MEDIA_ALREADY_COMPLETED", undefined, { field });
  return row;
}

/**
 * CompleteUpload: the uploader says the bytes are there. Everything that needs no decoding is
 * checked now (size, the type found in the bytes, structure, dimensions): a failure rejects the
 * upload (its bytes are then deleted) and is answered as its coded error. Otherwise the media is
 * UPLOADED and MediaUploaded queues the processing (consumers.ts), in one transaction.
 */
export async function completeUpload(
  ctx: MediaContext,
  req: CompleteUploadRequest,
): Promise<MessageInitShape<typeof CompleteUploadResponseSchema>> {
  const row = await ownPendingUpload(ctx, req.mediaId);
  const head = await ctx.store.head(uploadKey(row.id));
  if (!head) throw new NovaError("MEDIA_NOT_UPLOADED", undefined, { field: "id" });
  let contentType: string;
  try {
    if (head.size !== Number(row.byte_size)) {
      throw new NovaError("MEDIA_SIZE_MISMATCH", `byteSize: declared ${row.byte_size}, received ${head.size}`, {
        field: "byteSize",
      });
    }
    const bytes = (await ctx.store.get(uploadKey(row.id))) ?? Buffer.alloc(0);
    const check = row.kind === "VIDEO" ? probeVideo : inspect;
    contentType = (await check(bytes, row.content_type, ctx.limits)).contentType;
  } catch (err) {
    if (!(err instanceof NovaError)) throw err;
    await ctx.writer.transaction().execute((trx) => reject(trx, ctx.outbox, row, err));
    throw err;
  }
  await ctx.writer.transaction().execute(async (trx) => {
    if (!(await transition(trx, row.id, ["PENDING"], "UPLOADED"))) {
      throw new NovaError("MEDIA_ALREADY_COMPLETED", undefined, { field: "id" });
    }
    const payload = { mediaId: row.id, ownerId: row.owner_id, kind: row.kind, contentType, byteSize: head.size };
    await ctx.outbox.emit(trx as unknown as Transaction<unknown>, mediaEvent("MediaUploaded", payload, row.owner_id));
  });
  const [media] = await present(ctx, [{ ...row, state: "UPLOADED" }], [], row.owner_id);
  return { media };
}
