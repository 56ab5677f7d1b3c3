/**
 * The moderation service: users' reports (validated, checked with the subject's owner, folded per
 * reporter and subject, within an hourly budget), the moderators' queue of reported subjects, their
 * actions (recorded with the audit log and the events other services apply) and their appeals.
 * One RPC per file in rpc/, its SQL in queries.ts.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ModerationService } from "../../gen/nova/moderation/v1/moderation_pb.ts";
import type { ModerationDeps } from "./deps.ts";
import { createReport } from "./rpc/createReport.ts";
import { decideAppeal } from "./rpc/decideAppeal.ts";
import { fileAppeal } from "./rpc/fileAppeal.ts";
import { getOwnActions } from "./rpc/getOwnActions.ts";
import { listQueue } from "./rpc/listQueue.ts";
import { takeAction } from "./rpc/takeAction.ts";

export type { ModerationDeps } from "./deps.ts";

export function createModerationService(deps: ModerationDeps): ServiceImpl<typeof ModerationService> {
  return {
    createReport: createReport(deps),
    listQueue: listQueue(deps),
    takeAction: takeAction(deps),
    fileAppeal: fileAppeal(deps),
    decideAppeal: decideAppeal(deps),
    getOwnActions: getOwnActions(deps),
  };
}
