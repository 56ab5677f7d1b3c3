/**
 * The media service: uploads declared, completed, checked and processed into variants (one RPC per
 * file in rpc/, the SQL in queries.ts, the events in events.ts, the processing in process.ts and
 * its consumer in consumers.ts, the bytes behind the BlobStore of blobs.ts).
 *
 * This file only wires.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import type { MediaContext } from "./context.ts";
import { attachMedia } from "./rpc/attachMedia.ts";
import { completeUpload } from "./rpc/completeUpload.ts";
import { createUpload } from "./rpc/createUpload.ts";
import { getMedia } from "./rpc/getMedia.ts";

export function createMediaService(ctx: MediaContext): ServiceImpl<typeof MediaService> {
  return {
    createUpload: (req) => createUpload(ctx, req),
    completeUpload: (req) => completeUpload(ctx, req),
    getMedia: (req) => getMedia(ctx, req),
    attachMedia: (req) => attachMedia(ctx, req),
  };
}
