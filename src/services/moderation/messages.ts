/** The moderation service's rows as proto messages. */
import { create } from "@bufbuild/protobuf";
import {
  type Action,
  ActionSchema,
  type Appeal,
  AppealSchema,
  AppealState,
  AttachedMessageSchema,
  type QueueEntry,
  QueueEntrySchema,
  type Report,
  ReportSchema,
} from "../../gen/nova/moderation/v1/moderation_pb.ts";
import type { ActionRow, AppealRow, ReportRow, SubjectReports } from "./queries.ts";
import { actionEnum, categoryEnum, kindEnum, stateEnum } from "./validation.ts";

export function toReport(r: ReportRow): Report {
  return create(ReportSchema, {
    id: r.id,
    reporterId: r.reporter_id,
    subjectKind: kindEnum(r.kind),
    subjectId: r.subject_id,
    category: categoryEnum(r.category),
    comment: r.comment,
    state: stateEnum(r.state),
    messages: r.messages.map((m) =>
      create(AttachedMessageSchema, {
        messageId: m.message_id,
        senderId: m.sender_id,
        text: m.text,
        encrypted: m.encrypted,
        sentAt: m.sent_at,
      }),
    ),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  });
}

export interface SubjectRow {
  id: string;
  kind: string;
  subject_id: string;
  user_id: string;
  state: string;
  last_reported_at: Date;
}

export function toQueueEntry(s: SubjectRow, reports: SubjectReports | undefined): QueueEntry {
  return create(QueueEntrySchema, {
    subjectKind: kindEnum(s.kind),
    subjectId: s.subject_id,
    subjectUserId: s.user_id,
    state: stateEnum(s.state),
    reportCount: reports?.count ?? 0,
    categories: (reports?.categories ?? []).map(categoryEnum),
    lastReportedAt: s.last_reported_at.toISOString(),
    reports: (reports?.newest ?? []).map(toReport),
  });
}

export function toAction(r: ActionRow): Action {
  return create(ActionSchema, {
    id: r.id,
    subjectKind: kindEnum(r.subject_kind),
    subjectId: r.subject_id,
    userId: r.user_id,
    action: actionEnum(r.action),
    reason: r.reason,
    until: r.until?.toISOString() ?? "",
    actorId: r.actor_id,
    createdAt: r.created_at.toISOString(),
  });
}

export function toAppeal(r: AppealRow): Appeal {
  return create(AppealSchema, {
    id: r.id,
    actionId: r.action_id,
    appellantId: r.appellant_id,
    statement: r.statement,
    state: { open: AppealState.OPEN, upheld: AppealState.UPHELD, overturned: AppealState.OVERTURNED }[r.state],
    decidedBy: r.decided_by ?? "",
    decisionReason: r.decision_reason,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? "",
  });
}
