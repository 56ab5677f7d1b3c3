/**
 * CreateReport: validate every field, check the subject with its owner (it exists, it is not the
 * reporter's own), then, under the reporter's lock, spend the hourly budget and file the report or
 * fold it into the reporter's open report of the same subject; the subject moves to the head of
 * the queue (reopened if it was closed).
 */
import { create } from "@bufbuild/protobuf";
import {
  type CreateReportRequest,
  type CreateReportResponse,
  CreateReportResponseSchema,
} from "../../../gen/nova/moderation/v1/moderation_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuidv7 } from "../../../platform/validate.ts";
import type { ModerationDeps } from "../deps.ts";
import { toReport } from "../messages.ts";
import { lockReporter, recentReports, reportById, touchSubject, upsertReport } from "../queries.ts";
import { type ResolvedSubject, resolveSubject } from "../subjects.ts";
import { LIMITS, type ReportInput, validateReport } from "../validation.ts";

const HOUR_MS = 3_600_000;

export function createReport(deps: ModerationDeps) {
  return async (req: CreateReportRequest): Promise<CreateReportResponse> => {
    const reporter = requireUser().userId;
    const input = validateReport(req);
    const subject = await resolveSubject(deps, input, reporter);
    const filed = await file(deps, reporter, input, subject);
    const row = await reportById(deps.db.writer, filed.id);
    if (!row) throw new NovaError("INTERNAL", "the report just filed is missing");
    return create(CreateReportResponseSchema, { report: toReport(row), folded: filed.folded });
  };
}

/** Spends the budget and writes the report, in one transaction under the reporter's lock. */
function file(deps: ModerationDeps, reporter: string, input: ReportInput, subject: ResolvedSubject) {
  const budget = deps.reportsPerHour ?? LIMITS.reportsPerHour;
  return deps.db.writer.transaction().execute(async (trx) => {
    await lockReporter(trx, reporter);
    if ((await recentReports(trx, reporter, HOUR_MS)) >= budget) {
      throw new NovaError("RATE_LIMITED", `at most ${budget} reports an hour; try again later`);
    }
    const subjectRef = await touchSubject(
      trx,
      { kind: input.kind, subjectId: input.subjectId, userId: subject.userId },
      uuidv7(),
    );
    return upsertReport(trx, {
      id: uuidv7(),
      subjectRef,
      reporterId: reporter,
      category: input.category,
      comment: input.comment,
      messages: subject.messages,
    });
  });
}
