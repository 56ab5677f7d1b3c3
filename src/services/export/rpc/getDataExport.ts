/** GetDataExport: the caller's latest archive (none when they never asked), its link freshly signed. */
import { create } from "@bufbuild/protobuf";
import { type GetDataExportResponse, GetDataExportResponseSchema } from "../../../gen/nova/export/v1/export_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { ExportContext } from "../context.ts";
import { latestArchive } from "../queries.ts";
import { toDataExport } from "../views.ts";

export async function getDataExport(ctx: ExportContext): Promise<GetDataExportResponse> {
  const user = requireUser();
  // The writer: the status right after a request or a build must be the one just written.
  const row = await latestArchive(ctx.writer, user.userId, new Date(ctx.now()));
  return create(GetDataExportResponseSchema, { dataExport: row ? await toDataExport(ctx, row) : undefined });
}
