/**
 * RequestDataExport: a new archive of the caller's data, PENDING until the build consumer has made
 * it. One at a time: while the latest is PENDING, or READY and unexpired, it is the answer
 * (created false) and nothing more is built or mailed, so a double click or a retry costs nothing.
 */
import { create } from "@bufbuild/protobuf";
import {
  type RequestDataExportResponse,
  RequestDataExportResponseSchema,
} from "../../../gen/nova/export/v1/export_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { ExportContext } from "../context.ts";
import { exportEvent, writeExportEvents } from "../events.ts";
import { insertArchive, latestArchive, lockUser, markFailed } from "../queries.ts";
import { toDataExport } from "../views.ts";

/** A build still PENDING after this never finished (its event went to the DLQ): it no longer blocks a new one. */
const STALE_MS = 3_600_000;

export async function requestDataExport(ctx: ExportContext): Promise<RequestDataExportResponse> {
  const user = requireUser();
  const { row, created } = await ctx.writer.transaction().execute(async (trx) => {
    await lockUser(trx, user.userId);
    const latest = await latestArchive(trx, user.userId, new Date(ctx.now()));
    const stale = latest?.status === "PENDING" && latest.requested_at.getTime() < ctx.now() - STALE_MS;
    if (stale) await markFailed(trx, latest.id);
    else if (latest?.status === "PENDING" || latest?.status === "READY") return { row: latest, created: false };
    const row = await insertArchive(trx, user.userId);
    await writeExportEvents(ctx.outbox, trx, exportEvent("ExportRequested", user.userId, row.id));
    return { row, created: true };
  });
  return create(RequestDataExportResponseSchema, { dataExport: await toDataExport(ctx, row), created });
}
