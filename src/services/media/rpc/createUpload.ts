import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateUploadRequest, CreateUploadResponseSchema } from "../../../gen/nova/media/v1/media_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuidv7 } from "../../../platform/validate.ts";
import { type MediaContext, present, uploadKey } from "../context.ts";
import { checkDeclaredType } from "../process.ts";
import { insertMedia, lockUploadUsage, type MediaPurpose } from "../queries.ts";
import { checkDeclaredVideo } from "../video.ts";

/** Refuses an upload past the owner's quotas (every declared upload counts, whatever became of it). */
function checkQuota(ctx: MediaContext, used: { filesLastHour: number; bytesLastDay: number }, byteSize: number): void {
  const { bytesPerDay, filesPerHour } = ctx.quota;
  if (used.filesLastHour >= filesPerHour) {
    throw new NovaError("QUOTA_EXCEEDED", `files: at most ${filesPerHour} uploads an hour`, { field: "files" });
  }
  if (used.bytesLastDay + byteSize > bytesPerDay) {
    throw new NovaError(
      "QUOTA_EXCEEDED",
      `byteSize: at most ${bytesPerDay} bytes a day (${used.bytesLastDay} declared in the last 24 hours)`,
      { field: "byteSize" },
    );
  }
}

/** POST (the default) or MESSAGE. */
function purposeOf(value: string): MediaPurpose {
  const p = value.trim().toUpperCase() || "POST";
  if (p !== "POST" && p !== "MESSAGE") throw invalid("purpose", "must be POST or MESSAGE");
  return p;
}

/**
 * CreateUpload: declares an upload of the caller (kind, content type, exact byte size: each kind
 * has its types and size limit), stores it
 * PENDING and answers where its bytes go: the store's presigned PUT when it takes direct uploads
 * (S3), else the gateway's upload route.
 */
export async function createUpload(
  ctx: MediaContext,
  req: CreateUploadRequest,
): Promise<MessageInitShape<typeof CreateUploadResponseSchema>> {
  const user = requireUser().userId;
  const kind = req.kind.trim().toUpperCase();
  if (kind !== "IMAGE" && kind !== "VIDEO") throw invalid("kind", "must be IMAGE or VIDEO");
  const video = kind === "VIDEO";
  const contentType = video
    ? checkDeclaredVideo(req.contentType, ctx.limits.video)
    : checkDeclaredType(req.contentType);
  const maxBytes = video ? (ctx.limits.video?.maxBytes ?? 0) : ctx.limits.maxBytes;
  const purpose = purposeOf(req.purpose);
  if (req.byteSize === 0n) throw new NovaError("MEDIA_EMPTY", "byteSize: the file is empty", { field: "byteSize" });
  if (req.byteSize > BigInt(maxBytes)) {
    throw new NovaError("MEDIA_TOO_LARGE", `byteSize: at most ${maxBytes} bytes`, { field: "byteSize" });
  }
  const byteSize = Number(req.byteSize);
  const id = uuidv7();
  const row = await ctx.writer.transaction().execute(async (trx) => {
    checkQuota(ctx, await lockUploadUsage(trx, user), byteSize);
    return insertMedia(trx, { id, ownerId: user, kind, contentType, byteSize, purpose });
  });
  const direct = await ctx.store.directUpload(uploadKey(id), contentType, byteSize, ctx.uploadExpiryS);
  const expiresAt = direct?.expiresAt ?? new Date(Date.now() + ctx.uploadExpiryS * 1000);
  const [media] = await present(ctx, [row], [], user);
  return {
    media,
    target: direct
      ? { url: direct.url, method: direct.method, headers: direct.headers, expiresAt: expiresAt.toISOString() }
      : {
          url: `${ctx.uploadPath}/${id}`,
          method: "PUT",
          headers: { "content-type": contentType, "content-length": String(byteSize) },
          expiresAt: expiresAt.toISOString(),
        },
  };
}
