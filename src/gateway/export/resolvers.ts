/** The export part of the gateway: asking for an archive of one's data and reading its state (me { dataExport }). */
import type { DataExport } from "../../gen/nova/export/v1/export_pb.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { call } from "../views.ts";

function dataExportView(d: DataExport) {
  return {
    id: d.id,
    status: d.status,
    requestedAt: d.requestedAt,
    readyAt: d.readyAt || null,
    url: d.url || null,
    expiresAt: d.expiresAt || null,
    byteSize: d.status === "READY" ? Number(d.byteSize) : null,
  };
}

export const exportResolvers = {
  User: {
    dataExport: async (u: { id: string }, _args: unknown, ctx: GatewayContext) => {
      // Private: answered on the viewer's own profile only.
      if (ctx.user?.userId !== u.id) return null;
      const res = await call(ctx, () => ctx.deps.export.getDataExport({}));
      return res.dataExport ? dataExportView(res.dataExport) : null;
    },
  },
  Mutation: {
    requestDataExport: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.export.requestDataExport({}));
      if (!res.dataExport) throw new Error("requestDataExport: no archive in the answer");
      return dataExportView(res.dataExport);
    },
  },
};
