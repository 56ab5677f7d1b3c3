/** The export service (nova.export.v1): users' archives of their own data. One RPC per file in rpc/. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ExportService } from "../../gen/nova/export/v1/export_pb.ts";
import type { ExportContext } from "./context.ts";
import { getDataExport } from "./rpc/getDataExport.ts";
import { requestDataExport } from "./rpc/requestDataExport.ts";

export function createExportService(ctx: ExportContext): ServiceImpl<typeof ExportService> {
  return {
    requestDataExport: () => requestDataExport(ctx),
    getDataExport: () => getDataExport(ctx),
  };
}
