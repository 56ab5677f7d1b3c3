/** An archive row as the API answers it, its link signed afresh for what is left of its life. */
import { create } from "@bufbuild/protobuf";
import { type DataExport, DataExportSchema } from "../../gen/nova/export/v1/export_pb.ts";
import type { ExportContext } from "./context.ts";
import type { ArchiveRow } from "./queries.ts";

export async function signedLink(ctx: ExportContext, row: ArchiveRow): Promise<string> {
  if (row.status !== "READY" || !row.blob_key || !row.expires_at) return "";
  const leftS = Math.floor((row.expires_at.getTime() - ctx.now()) / 1000);
  return leftS > 0 ? ctx.store.signedUrl(row.blob_key, leftS) : "";
}

export async function toDataExport(ctx: ExportContext, row: ArchiveRow): Promise<DataExport> {
  const ready = row.status === "READY" || row.status === "EXPIRED";
  return create(DataExportSchema, {
    id: row.id,
    status: row.status,
    requestedAt: row.requested_at.toISOString(),
    readyAt: ready && row.ready_at ? row.ready_at.toISOString() : "",
    expiresAt: ready && row.expires_at ? row.expires_at.toISOString() : "",
    url: await signedLink(ctx, row),
    byteSize: row.status === "READY" ? BigInt(row.byte_size) : 0n,
  });
}
