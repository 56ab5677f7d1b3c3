/**
 * Input rules of the moderation service, and the mapping between the proto's enums and the words
 * stored in its tables. Every failure is VALIDATION_FAILED naming the field.
 */
import { ActionKind, Category, ReportState, SubjectKind } from "../../gen/nova/moderation/v1/moderation_pb.ts";
import { invalid } from "../../platform/errors.ts";
import { text, uuid } from "../../platform/validate.ts";

export const LIMITS = {
  commentMax: 1_000,
  messagesMax: 20,
  /** A reporter's account of one encrypted message, as long as a message may be. */
  messageTextMax: 4_000,
  /** Reports (new or folded) one user may file in an hour. */
  reportsPerHour: 20,
  /** Reports shown with each queue entry. */
  reportsPerEntry: 5,
} as const;

export type Kind = "post" | "comment" | "message" | "account";
export type CategoryWord = "spam" | "harassment" | "hate" | "nudity" | "violence" | "self_harm" | "illegal" | "other";
export type State = "open" | "actioned" | "dismissed";

/** Each enum value and its stored word; UNSPECIFIED has none. */
const KINDS = new Map<SubjectKind, Kind>([
  [SubjectKind.POST, "post"],
  [SubjectKind.COMMENT, "comment"],
  [SubjectKind.MESSAGE, "message"],
  [SubjectKind.ACCOUNT, "account"],
]);
const CATEGORIES = new Map<Category, CategoryWord>([
  [Category.SPAM, "spam"],
  [Category.HARASSMENT, "harassment"],
  [Category.HATE, "hate"],
  [Category.NUDITY, "nudity"],
  [Category.VIOLENCE, "violence"],
  [Category.SELF_HARM, "self_harm"],
  [Category.ILLEGAL, "illegal"],
  [Category.OTHER, "other"],
]);
const STATES = new Map<ReportState, State>([
  [ReportState.OPEN, "open"],
  [ReportState.ACTIONED, "actioned"],
  [ReportState.DISMISSED, "dismissed"],
]);

const reverse = <E, W>(m: Map<E, W>) => new Map([...m].map(([e, w]) => [w, e]));
const KIND_OF = reverse(KINDS);
const CATEGORY_OF = reverse(CATEGORIES);
const STATE_OF = reverse(STATES);

function word<E, W>(m: Map<E, W>, field: string, value: E, optional: boolean): W | undefined {
  const w = m.get(value);
  if (w !== undefined) return w;
  if (optional && (value as number) === 0) return undefined;
  throw invalid(field, optional ? "is not one of its values" : "is required (one of its values)");
}

export const kindWord = (v: SubjectKind, field = "subjectKind") => word(KINDS, field, v, false) as Kind;
export const categoryWord = (v: Category, field = "category") => word(CATEGORIES, field, v, false) as CategoryWord;
/** Filters: UNSPECIFIED is "any" (undefined). */
export const kindFilter = (v: SubjectKind) => word(KINDS, "subjectKind", v, true);
export const categoryFilter = (v: Category) => word(CATEGORIES, "category", v, true);
export const stateFilter = (v: ReportState) => word(STATES, "state", v, true);

export const kindEnum = (w: string) => KIND_OF.get(w as Kind) ?? SubjectKind.UNSPECIFIED;
export const categoryEnum = (w: string) => CATEGORY_OF.get(w as CategoryWord) ?? Category.UNSPECIFIED;
export const stateEnum = (w: string) => STATE_OF.get(w as State) ?? ReportState.UNSPECIFIED;

export interface MessageInput {
  messageId: string;
  text: string;
}

export interface ReportInput {
  kind: Kind;
  subjectId: string;
  category: CategoryWord;
  comment: string;
  messages: MessageInput[];
}

/** A report's fields: every one checked, in the order of the request. */
export function validateReport(req: {
  subjectKind: SubjectKind;
  subjectId: string;
  category: Category;
  comment: string;
  messages: readonly { messageId: string; text: string }[];
}): ReportInput {
  const kind = kindWord(req.subjectKind);
  const subjectId = uuid("subjectId", req.subjectId, `a ${kind === "account" ? "user" : kind} id`);
  const category = categoryWord(req.category);
  const comment = text("comment", req.comment, { max: LIMITS.commentMax, multiline: true, optional: true });
  return { kind, subjectId, category, comment, messages: validateMessages(kind, subjectId, req.messages) };
}

function validateMessages(kind: Kind, subjectId: string, raw: readonly { messageId: string; text: string }[]) {
  if (kind !== "message") {
    if (raw.length > 0) throw invalid("messages", "are attached to a message report only");
    return [];
  }
  if (raw.length === 0) throw invalid("messages", "must attach the reported message");
  if (raw.length > LIMITS.messagesMax) throw invalid("messages", `must have at most ${LIMITS.messagesMax} messages`);
  const messages = raw.map((m, i) => ({
    messageId: uuid(`messages[${i}].messageId`, m.messageId, "a message id"),
    text: text(`messages[${i}].text`, m.text, { max: LIMITS.messageTextMax, multiline: true, optional: true }),
  }));
  const ids = new Set(messages.map((m) => m.messageId));
  if (ids.size !== messages.length) throw invalid("messages", "must not repeat a message");
  if (!ids.has(subjectId)) throw invalid("messages", "must include the reported message (subjectId)");
  return messages;
}

export type ActionWord = "dismiss" | "remove" | "mark_sensitive" | "warn" | "suspend" | "ban" | "lift";

const ACTIONS = new Map<ActionKind, ActionWord>([
  [ActionKind.DISMISS, "dismiss"],
  [ActionKind.REMOVE, "remove"],
  [ActionKind.MARK_SENSITIVE, "mark_sensitive"],
  [ActionKind.WARN, "warn"],
  [ActionKind.SUSPEND, "suspend"],
  [ActionKind.BAN, "ban"],
  [ActionKind.LIFT, "lift"],
]);
const ACTION_OF = reverse(ACTIONS);
export const actionEnum = (w: string) => ACTION_OF.get(w as ActionWord) ?? ActionKind.UNSPECIFIED;

/** The subject kinds each action applies to (account actions reach the owner of any subject). */
const APPLIES_TO: Record<ActionWord, readonly Kind[]> = {
  dismiss: ["post", "comment", "message", "account"],
  remove: ["post", "comment"],
  mark_sensitive: ["post"],
  warn: ["post", "comment", "message", "account"],
  suspend: ["post", "comment", "message", "account"],
  ban: ["post", "comment", "message", "account"],
  lift: ["post", "comment", "message", "account"],
};

export const LIMITS_ACTION = { reasonMax: 1_000, daysMax: 365 } as const;

export interface ActionInput {
  kind: Kind;
  subjectId: string;
  action: ActionWord;
  reason: string;
  days: number;
  /** MARK_SENSITIVE's warning, checked by content (which owns its rule); "" otherwise. */
  contentWarning: string;
}

export function validateAction(req: {
  subjectKind: SubjectKind;
  subjectId: string;
  action: ActionKind;
  reason: string;
  days: number;
  contentWarning: string;
}): ActionInput {
  const kind = kindWord(req.subjectKind);
  const subjectId = uuid("subjectId", req.subjectId, `a ${kind === "account" ? "user" : kind} id`);
  const action = word(ACTIONS, "action", req.action, false) as ActionWord;
  if (!APPLIES_TO[action].includes(kind)) throw invalid("action", `does not apply to a ${kind}`);
  const reasonOptional = action === "dismiss" || action === "lift";
  const reason = text("reason", req.reason, {
    max: LIMITS_ACTION.reasonMax,
    multiline: true,
    optional: reasonOptional,
  });
  if (action === "suspend") {
    if (!Number.isInteger(req.days) || req.days < 1 || req.days > LIMITS_ACTION.daysMax) {
      throw invalid("days", `must be 1 to ${LIMITS_ACTION.daysMax} for a suspension`);
    }
  } else if (req.days !== 0) {
    throw invalid("days", "is for a suspension only");
  }
  if (action !== "mark_sensitive" && req.contentWarning !== "") {
    throw invalid("contentWarning", "is for marking a post sensitive only");
  }
  return { kind, subjectId, action, reason, days: req.days, contentWarning: req.contentWarning };
}
