/**
 * The moderation part of the gateway: filing a report and the moderators' queue. The queue is a
 * page of entries from the moderation service (it checks the moderator role itself); the users
 * they name (subject owners, reporters, message senders) are hydrated through the users loader in
 * one batch per page.
 */
import {
  type Action,
  ActionKind,
  type Appeal,
  AppealState,
  Category,
  type QueueEntry,
  type Report,
  ReportState,
  SubjectKind,
} from "../../gen/nova/moderation/v1/moderation_pb.ts";
import { invalid } from "../../platform/errors.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import { call, connection, type Page, pageArgs, userView } from "../views.ts";

type Kind = keyof typeof SubjectKind;
type CategoryName = keyof typeof Category;
type StateName = keyof typeof ReportState;
type ActionName = keyof typeof ActionKind;

interface ActionInputArgs {
  subjectKind: Kind;
  subjectId: string;
  action: ActionName;
  reason?: string | null;
  days?: number | null;
  contentWarning?: string | null;
}

interface ReportInputArgs {
  subjectKind: Kind;
  subjectId: string;
  category: CategoryName;
  comment?: string | null;
  messages?: { messageId: string; text?: string | null }[] | null;
}

interface QueueArgs extends Page {
  subjectKind?: Kind | null;
  category?: CategoryName | null;
  state?: StateName | null;
}

// GraphQL's enum names are the proto's without their prefix (POST: SUBJECT_KIND_POST).
const kindName = (v: SubjectKind) => SubjectKind[v];
const categoryName = (v: Category) => Category[v];
const stateName = (v: ReportState) => ReportState[v];

function reportView(r: Report) {
  return {
    id: r.id,
    reporterId: r.reporterId,
    subjectKind: kindName(r.subjectKind),
    subjectId: r.subjectId,
    category: categoryName(r.category),
    comment: r.comment,
    state: stateName(r.state),
    messages: r.messages.map((m) => ({
      messageId: m.messageId,
      senderId: m.senderId,
      text: m.text,
      encrypted: m.encrypted,
      sentAt: m.sentAt,
    })),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function entryView(e: QueueEntry) {
  return {
    subjectKind: kindName(e.subjectKind),
    subjectId: e.subjectId,
    subjectUserId: e.subjectUserId,
    state: stateName(e.state),
    reportCount: e.reportCount,
    categories: e.categories.map(categoryName),
    lastReportedAt: e.lastReportedAt,
    reports: e.reports.map(reportView),
  };
}

export function actionView(a: Action) {
  return {
    id: a.id,
    subjectKind: kindName(a.subjectKind),
    subjectId: a.subjectId,
    userId: a.userId,
    action: ActionKind[a.action],
    reason: a.reason,
    until: a.until === "" ? null : a.until,
    actorId: a.actorId,
    createdAt: a.createdAt,
  };
}

function appealView(a: Appeal | undefined) {
  if (!a) return null;
  return {
    id: a.id,
    actionId: a.actionId,
    statement: a.statement,
    state: AppealState[a.state],
    decisionReason: a.decisionReason,
    createdAt: a.createdAt,
    decidedAt: a.decidedAt === "" ? null : a.decidedAt,
  };
}

/** days is a uint32 on the wire: a negative one is refused here, by name, before it cannot be encoded. */
function daysArg(days: number | null | undefined): number {
  if (days == null) return 0;
  if (days < 0) throw toGraphQLError(invalid("days", "must be 1 to 365 for a suspension"));
  return days;
}

const loadUser = async (ctx: GatewayContext, id: string) =>
  id === "" ? null : userView(await call(ctx, () => ctx.loaders.users.load(id)));

export const moderationResolvers = {
  Query: {
    moderationQueue: async (_root: unknown, args: QueueArgs, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.moderation.listQueue({
          ...pageArgs(args),
          subjectKind: args.subjectKind ? SubjectKind[args.subjectKind] : SubjectKind.UNSPECIFIED,
          category: args.category ? Category[args.category] : Category.UNSPECIFIED,
          state: args.state ? ReportState[args.state] : ReportState.UNSPECIFIED,
        }),
      );
      return connection(res.entries.map(entryView), res.cursors, res.nextCursor);
    },
  },
  Mutation: {
    report: async (_root: unknown, args: { input: ReportInputArgs }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const i = args.input;
      const res = await call(ctx, () =>
        ctx.deps.moderation.createReport({
          subjectKind: SubjectKind[i.subjectKind],
          subjectId: i.subjectId,
          category: Category[i.category],
          comment: i.comment ?? "",
          messages: (i.messages ?? []).map((m) => ({ messageId: m.messageId, text: m.text ?? "" })),
        }),
      );
      return { report: res.report ? reportView(res.report) : null, folded: res.folded };
    },
    moderate: async (_root: unknown, args: { input: ActionInputArgs }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const i = args.input;
      const days = daysArg(i.days);
      const res = await call(ctx, () =>
        ctx.deps.moderation.takeAction({
          subjectKind: SubjectKind[i.subjectKind],
          subjectId: i.subjectId,
          action: ActionKind[i.action],
          reason: i.reason ?? "",
          days,
          contentWarning: i.contentWarning ?? "",
        }),
      );
      return res.action ? actionView(res.action) : null;
    },
    appeal: async (_root: unknown, args: { actionId: string; statement: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.moderation.fileAppeal(args));
      return appealView(res.appeal);
    },
    decideAppeal: async (
      _root: unknown,
      args: { appealId: string; decision: "UPHELD" | "OVERTURNED"; reason: string },
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.moderation.decideAppeal({
          appealId: args.appealId,
          decision: AppealState[args.decision],
          reason: args.reason,
        }),
      );
      return appealView(res.appeal);
    },
  },
  ModerationAction: {
    user: (a: { userId: string }, _a: unknown, ctx: GatewayContext) => loadUser(ctx, a.userId),
    actor: (a: { actorId: string }, _a: unknown, ctx: GatewayContext) => loadUser(ctx, a.actorId),
  },
  Report: {
    reporter: (r: { reporterId: string }, _a: unknown, ctx: GatewayContext) => loadUser(ctx, r.reporterId),
  },
  ReportedMessage: {
    sender: (m: { senderId: string }, _a: unknown, ctx: GatewayContext) => loadUser(ctx, m.senderId),
  },
  ModerationQueueEntry: {
    subjectUser: (e: { subjectUserId: string }, _a: unknown, ctx: GatewayContext) => loadUser(ctx, e.subjectUserId),
  },
};
