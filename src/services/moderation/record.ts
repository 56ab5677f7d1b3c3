/**
 * The transaction of an action: the account's standing before and after, the action row, the
 * subject's open reports closed, the audit row and the events, committed together.
 */
import type { Transaction } from "kysely";
import { invalid } from "../../platform/errors.ts";
import type { ModerationDeps } from "./deps.ts";
import { MODERATION_EVENTS } from "./events.ts";
import {
  type ActionRow,
  appendAudit,
  clearStanding,
  closeReports,
  insertAction,
  lockStanding,
  type ModerationTables,
  pseudonymsOf,
  restricts,
  type StandingRow,
  setStanding,
} from "./queries.ts";
import type { ActionInput } from "./validation.ts";

const DAY_MS = 86_400_000;

export interface ActionToRecord {
  id: string;
  actor: string;
  userId: string;
  input: ActionInput;
}

type Trx = Transaction<ModerationTables>;

/** What the audit log says of the account's standing. */
function standingView(s: StandingRow | undefined): Record<string, unknown> {
  return restricts(s) ? { standing: s?.state, until: s?.until?.toISOString() ?? null } : { standing: "good" };
}

export function recordAction(deps: ModerationDeps, a: ActionToRecord): Promise<ActionRow> {
  return deps.db.writer.transaction().execute(async (trx) => {
    const before = await lockStanding(trx, a.userId);
    const { input } = a;
    if (input.action === "lift" && !restricts(before)) {
      throw invalid("action", "the account is neither suspended nor banned: there is nothing to lift");
    }
    const until = input.action === "suspend" ? new Date(Date.now() + input.days * DAY_MS) : null;
    const row = await insertAction(trx, {
      id: a.id,
      subject_kind: input.kind,
      subject_id: input.subjectId,
      user_id: a.userId,
      action: input.action,
      reason: input.reason,
      until,
      actor_id: a.actor,
    });
    const after = await applyStanding(trx, a, before, until);
    const reporters = await closeReports(
      trx,
      input.kind,
      input.subjectId,
      input.action === "dismiss" ? "dismissed" : "actioned",
    );
    await audit(trx, a, { before: standingView(before), after: standingView(after) });
    await writeEvents(deps, trx, a, until, reporters);
    return row;
  });
}

/** The standing the action leaves: suspended, banned, lifted, or unchanged. */
async function applyStanding(
  trx: Trx,
  a: ActionToRecord,
  before: StandingRow | undefined,
  until: Date | null,
): Promise<StandingRow | undefined> {
  switch (a.input.action) {
    case "suspend":
    case "ban": {
      const s = { state: a.input.action === "ban" ? "banned" : "suspended", until, action_id: a.id } as const;
      await setStanding(trx, a.userId, { state: s.state, until: s.until, actionId: a.id });
      return s;
    }
    case "lift":
      await clearStanding(trx, a.userId);
      return undefined;
    default:
      return before;
  }
}

async function audit(trx: Trx, a: ActionToRecord, change: { before: object; after: object }): Promise<void> {
  const names = await pseudonymsOf(trx, [a.actor, a.userId]);
  const subjectUser = names.get(a.userId) as string;
  await appendAudit(trx, {
    entry: "action",
    actor: names.get(a.actor) as string,
    subjectUser,
    subjectKind: a.input.kind,
    subjectRef: a.input.kind === "account" ? subjectUser : a.input.subjectId,
    actionId: a.id,
    decision: a.input.action,
    reason: a.input.reason,
    before: change.before as Record<string, unknown>,
    after: change.after as Record<string, unknown>,
  });
}

async function writeEvents(
  deps: ModerationDeps,
  trx: Trx,
  a: ActionToRecord,
  until: Date | null,
  reporters: string[],
): Promise<void> {
  const { input } = a;
  const base = { actionId: a.id, userId: a.userId };
  const E = MODERATION_EVENTS;
  const events = [];
  if (input.action === "warn") events.push(E.event("AccountWarned", a.actor, { ...base, reason: input.reason }));
  if (input.action === "suspend") {
    events.push(
      E.event("AccountSuspended", a.actor, { ...base, until: until?.toISOString() ?? "", reason: input.reason }),
    );
  }
  if (input.action === "ban") events.push(E.event("AccountBanned", a.actor, { ...base, reason: input.reason }));
  if (input.action === "lift") events.push(E.event("AccountReinstated", a.actor, base));
  if (input.action === "remove" && (input.kind === "post" || input.kind === "comment")) {
    events.push(
      E.event("ContentRemoved", a.actor, {
        ...base,
        subjectKind: input.kind,
        subjectId: input.subjectId,
        reason: input.reason,
      }),
    );
  }
  if (input.action === "mark_sensitive") {
    events.push(E.event("ContentMarkedSensitive", a.actor, { ...base, postId: input.subjectId }));
  }
  if (reporters.length > 0) {
    events.push(
      E.event("ReportsResolved", a.actor, {
        ...base,
        subjectKind: input.kind,
        subjectId: input.subjectId,
        outcome: input.action === "dismiss" ? "dismissed" : "actioned",
        reporterIds: reporters,
      }),
    );
  }
  await E.write(deps.outbox, trx, ...events);
}
