/**
 * The moderation service's SQL, over its typed tables: reports grouped by their subject, and the
 * queue of subjects.
 */
import { type Kysely, sql } from "kysely";
import type { CategoryWord, Kind, State } from "./validation.ts";

/** A message kept with a report (jsonb), as the reporter saw it. */
export interface AttachedMessageRow {
  message_id: string;
  sender_id: string;
  text: string;
  encrypted: boolean;
  sent_at: string;
}

interface SubjectsTable {
  id: string;
  kind: Kind;
  subject_id: string;
  user_id: string;
  state: State;
  last_seq: string;
  last_reported_at: Date;
}
interface ReportsTable {
  id: string;
  subject_ref: string;
  reporter_id: string;
  category: CategoryWord;
  comment: string;
  messages: AttachedMessageRow[];
  state: State;
  created_at: Date;
  updated_at: Date;
}
export interface ModerationTables {
  "moderation.subjects": SubjectsTable;
  "moderation.reports": ReportsTable;
}

export type ModerationDb = Kysely<ModerationTables>;

export interface ReportRow {
  id: string;
  reporter_id: string;
  kind: Kind;
  subject_id: string;
  category: CategoryWord;
  comment: string;
  messages: AttachedMessageRow[];
  state: State;
  created_at: Date;
  updated_at: Date;
}

/** Serializes one reporter's reports until the transaction ends, so the budget is counted exactly. */
export async function lockReporter(trx: ModerationDb, reporterId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`moderation:reporter:${reporterId}`}, 0))`.execute(trx);
}

/** Reports the reporter filed or folded within the last `ms`. */
export async function recentReports(trx: ModerationDb, reporterId: string, ms: number): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM moderation.reports
    WHERE reporter_id = ${reporterId}::uuid AND updated_at > now() - make_interval(secs => ${ms / 1000})`.execute(trx);
  return r.rows[0]?.n ?? 0;
}

export interface SubjectKey {
  kind: Kind;
  subjectId: string;
  userId: string;
}

/** The subject's row, made or moved to the head of the queue (and reopened): its id. */
export async function touchSubject(trx: ModerationDb, s: SubjectKey, newId: string): Promise<string> {
  const r = await sql<{ id: string }>`INSERT INTO moderation.subjects AS s (id, kind, subject_id, user_id, last_seq)
    VALUES (${newId}::uuid, ${s.kind}, ${s.subjectId}::uuid, ${s.userId}::uuid, nextval('moderation.report_seq'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET
      last_seq = nextval('moderation.report_seq'), last_reported_at = now(), state = 'open'
    RETURNING id::text AS id`.execute(trx);
  return (r.rows[0] as { id: string }).id;
}

export interface NewReport {
  id: string;
  subjectRef: string;
  reporterId: string;
  category: CategoryWord;
  comment: string;
  messages: AttachedMessageRow[];
}

/** Files the report, or folds it into the reporter's open report of the subject: the row, and whether it folded. */
export async function upsertReport(trx: ModerationDb, r: NewReport): Promise<{ id: string; folded: boolean }> {
  const res = await sql<{ id: string; folded: boolean }>`INSERT INTO moderation.reports AS r
      (id, subject_ref, reporter_id, category, comment, messages)
    VALUES (${r.id}::uuid, ${r.subjectRef}::uuid, ${r.reporterId}::uuid, ${r.category}, ${r.comment},
      ${JSON.stringify(r.messages)}::jsonb)
    ON CONFLICT (subject_ref, reporter_id) WHERE state = 'open' DO UPDATE SET
      category = excluded.category, comment = excluded.comment, messages = excluded.messages, updated_at = now()
    RETURNING id::text AS id, (xmax <> 0) AS folded`.execute(trx);
  return res.rows[0] as { id: string; folded: boolean };
}

const REPORT_COLUMNS = sql`r.id::text AS id, r.reporter_id::text AS reporter_id, s.kind,
  s.subject_id::text AS subject_id, r.category, r.comment, r.messages, r.state, r.created_at, r.updated_at`;

export async function reportById(db: ModerationDb, id: string): Promise<ReportRow | undefined> {
  const r = await sql<ReportRow>`SELECT ${REPORT_COLUMNS}
    FROM moderation.reports r JOIN moderation.subjects s ON s.id = r.subject_ref WHERE r.id = ${id}::uuid`.execute(db);
  return r.rows[0];
}

export interface QueueFilter {
  kind: Kind | undefined;
  category: CategoryWord | undefined;
  state: State;
}

/** The queue's subjects in `f`, for keysetPage on `moderation.subjects.last_seq` (most recent report first). */
export function queueQuery(db: ModerationDb, f: QueueFilter) {
  let q = db
    .selectFrom("moderation.subjects")
    .select([
      sql<string>`moderation.subjects.id::text`.as("id"),
      "moderation.subjects.kind",
      sql<string>`moderation.subjects.subject_id::text`.as("subject_id"),
      sql<string>`moderation.subjects.user_id::text`.as("user_id"),
      "moderation.subjects.state",
      sql<string>`moderation.subjects.last_seq::text`.as("last_seq"),
      "moderation.subjects.last_reported_at",
    ])
    .where("moderation.subjects.state", "=", f.state);
  if (f.kind) q = q.where("moderation.subjects.kind", "=", f.kind);
  const category = f.category;
  if (category) {
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom("moderation.reports as r")
          .select(sql`1`.as("one"))
          .whereRef("r.subject_ref", "=", "moderation.subjects.id")
          .whereRef("r.state", "=", "moderation.subjects.state")
          .where("r.category", "=", category),
      ),
    );
  }
  return q;
}

export interface SubjectReports {
  count: number;
  categories: CategoryWord[];
  /** Newest first, at most `perSubject`. */
  newest: ReportRow[];
}

/** For each subject of a queue page, its reports in the subject's state: how many, their categories, the newest. */
export async function reportsOf(
  db: ModerationDb,
  subjectRefs: string[],
  perSubject: number,
): Promise<Map<string, SubjectReports>> {
  const out = new Map<string, SubjectReports>(subjectRefs.map((id) => [id, { count: 0, categories: [], newest: [] }]));
  if (subjectRefs.length === 0) return out;
  const r = await sql<ReportRow & { subject_ref: string; rn: number; n: number }>`
    SELECT * FROM (
      SELECT ${REPORT_COLUMNS}, r.subject_ref::text AS subject_ref,
             row_number() OVER (PARTITION BY r.subject_ref ORDER BY r.updated_at DESC, r.id DESC)::int AS rn,
             count(*) OVER (PARTITION BY r.subject_ref)::int AS n
        FROM moderation.reports r JOIN moderation.subjects s ON s.id = r.subject_ref
       WHERE r.subject_ref = ANY(${subjectRefs}::uuid[]) AND r.state = s.state
    ) x WHERE rn <= ${perSubject} ORDER BY subject_ref, rn`.execute(db);
  const cats = await sql<{ subject_ref: string; category: CategoryWord }>`
    SELECT DISTINCT r.subject_ref::text AS subject_ref, r.category
      FROM moderation.reports r JOIN moderation.subjects s ON s.id = r.subject_ref
     WHERE r.subject_ref = ANY(${subjectRefs}::uuid[]) AND r.state = s.state ORDER BY 1, 2`.execute(db);
  for (const row of r.rows) {
    const e = out.get(row.subject_ref);
    if (!e) continue;
    e.count = row.n;
    e.newest.push(row);
  }
  for (const c of cats.rows) out.get(c.subject_ref)?.categories.push(c.category);
  return out;
}

// Actions, standing and the audit log

export interface StandingRow {
  state: "suspended" | "banned";
  until: Date | null;
  action_id: string;
}

/** The account's standing row, locked until the transaction ends (lapsed suspensions included). */
export async function lockStanding(trx: ModerationDb, userId: string): Promise<StandingRow | undefined> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`moderation:account:${userId}`}, 0))`.execute(trx);
  const r = await sql<StandingRow>`SELECT state, until, action_id::text AS action_id FROM moderation.standing
    WHERE user_id = ${userId}::uuid`.execute(trx);
  return r.rows[0];
}

/** Whether a standing row restricts its account now (a suspension lapses at its end). */
export function restricts(s: StandingRow | undefined, now = Date.now()): boolean {
  return !!s && (s.state === "banned" || (s.until !== null && s.until.getTime() > now));
}

export async function setStanding(
  trx: ModerationDb,
  userId: string,
  s: { state: "suspended" | "banned"; until: Date | null; actionId: string },
): Promise<void> {
  await sql`INSERT INTO moderation.standing (user_id, state, until, action_id)
    VALUES (${userId}::uuid, ${s.state}, ${s.until}, ${s.actionId}::uuid)
    ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, until = excluded.until, action_id = excluded.action_id`.execute(
    trx,
  );
}

export async function clearStanding(trx: ModerationDb, userId: string): Promise<void> {
  await sql`DELETE FROM moderation.standing WHERE user_id = ${userId}::uuid`.execute(trx);
}

/** The subject's queue row (who it belongs to), when it was ever reported. */
export async function subjectOf(
  db: ModerationDb,
  kind: Kind,
  subjectId: string,
): Promise<{ id: string; user_id: string } | undefined> {
  const r = await sql<{ id: string; user_id: string }>`SELECT id::text AS id, user_id::text AS user_id
    FROM moderation.subjects WHERE kind = ${kind} AND subject_id = ${subjectId}::uuid`.execute(db);
  return r.rows[0];
}

/** Closes the subject's open reports with `state`: their reporters. */
export async function closeReports(
  trx: ModerationDb,
  kind: Kind,
  subjectId: string,
  state: "actioned" | "dismissed",
): Promise<string[]> {
  const r = await sql<{ reporter_id: string }>`WITH s AS (
      UPDATE moderation.subjects SET state = ${state} WHERE kind = ${kind} AND subject_id = ${subjectId}::uuid
      RETURNING id)
    UPDATE moderation.reports r SET state = ${state}, updated_at = now() FROM s
     WHERE r.subject_ref = s.id AND r.state = 'open' RETURNING r.reporter_id::text AS reporter_id`.execute(trx);
  return r.rows.map((x) => x.reporter_id);
}

export interface ActionRow {
  id: string;
  subject_kind: Kind;
  subject_id: string;
  user_id: string;
  action: string;
  reason: string;
  until: Date | null;
  actor_id: string;
  created_at: Date;
}

export async function insertAction(trx: ModerationDb, a: Omit<ActionRow, "created_at">): Promise<ActionRow> {
  const r = await sql<ActionRow>`INSERT INTO moderation.actions
      (id, subject_kind, subject_id, user_id, action, reason, until, actor_id)
    VALUES (${a.id}::uuid, ${a.subject_kind}, ${a.subject_id}::uuid, ${a.user_id}::uuid, ${a.action}, ${a.reason},
      ${a.until}, ${a.actor_id}::uuid)
    RETURNING id::text AS id, subject_kind, subject_id::text AS subject_id, user_id::text AS user_id, action, reason,
      until, actor_id::text AS actor_id, created_at`.execute(trx);
  return r.rows[0] as ActionRow;
}

/** The pseudonyms of people (made on first use): what the audit log names them by. */
export async function pseudonymsOf(trx: ModerationDb, userIds: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds)].sort();
  await sql`INSERT INTO moderation.pseudonyms (user_id) SELECT unnest(${ids}::uuid[])
    ON CONFLICT (user_id) DO NOTHING`.execute(trx);
  const r = await sql<{ user_id: string; pseudonym: string }>`SELECT user_id::text AS user_id,
      pseudonym::text AS pseudonym FROM moderation.pseudonyms WHERE user_id = ANY(${ids}::uuid[])`.execute(trx);
  return new Map(r.rows.map((x) => [x.user_id, x.pseudonym]));
}

export interface AuditEntry {
  entry: "action" | "appeal_filed" | "appeal_decided";
  actor: string;
  subjectUser: string;
  subjectKind: Kind;
  /** A content id, or for an account the account's pseudonym. */
  subjectRef: string;
  actionId: string;
  decision: string;
  reason: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

/** Appends to the audit log (its trigger refuses any UPDATE or DELETE). */
export async function appendAudit(trx: ModerationDb, e: AuditEntry): Promise<void> {
  await sql`INSERT INTO moderation.audit_log
      (entry, actor, subject_user, subject_kind, subject_ref, action_id, decision, reason, before, after)
    VALUES (${e.entry}, ${e.actor}::uuid, ${e.subjectUser}::uuid, ${e.subjectKind}, ${e.subjectRef}::uuid,
      ${e.actionId}::uuid, ${e.decision}, ${e.reason}, ${JSON.stringify(e.before)}::jsonb,
      ${JSON.stringify(e.after)}::jsonb)`.execute(trx);
}

// Appeals

export interface AppealRow {
  id: string;
  action_id: string;
  appellant_id: string;
  statement: string;
  state: "open" | "upheld" | "overturned";
  decided_by: string | null;
  decision_reason: string;
  created_at: Date;
  decided_at: Date | null;
}

const APPEAL_COLUMNS = sql`id::text AS id, action_id::text AS action_id, appellant_id::text AS appellant_id, statement,
  state, decided_by::text AS decided_by, decision_reason, created_at, decided_at`;

export async function actionById(db: ModerationDb, id: string): Promise<ActionRow | undefined> {
  const r = await sql<ActionRow>`SELECT id::text AS id, subject_kind, subject_id::text AS subject_id,
      user_id::text AS user_id, action, reason, until, actor_id::text AS actor_id, created_at
    FROM moderation.actions WHERE id = ${id}::uuid`.execute(db);
  return r.rows[0];
}

/** The actions among `ids` that touched `userId`'s account. */
export async function ownActions(db: ModerationDb, userId: string, ids: string[]): Promise<ActionRow[]> {
  if (ids.length === 0) return [];
  const r = await sql<ActionRow>`SELECT id::text AS id, subject_kind, subject_id::text AS subject_id,
      user_id::text AS user_id, action, reason, until, actor_id::text AS actor_id, created_at
    FROM moderation.actions WHERE id = ANY(${ids}::uuid[]) AND user_id = ${userId}::uuid`.execute(db);
  return r.rows;
}

/** Files the action's appeal; undefined when it has one already. */
export async function insertAppeal(
  trx: ModerationDb,
  a: { id: string; actionId: string; appellantId: string; statement: string },
): Promise<AppealRow | undefined> {
  const r = await sql<AppealRow>`INSERT INTO moderation.appeals (id, action_id, appellant_id, statement)
    VALUES (${a.id}::uuid, ${a.actionId}::uuid, ${a.appellantId}::uuid, ${a.statement})
    ON CONFLICT (action_id) DO NOTHING RETURNING ${APPEAL_COLUMNS}`.execute(trx);
  return r.rows[0];
}

export async function lockAppeal(trx: ModerationDb, id: string): Promise<AppealRow | undefined> {
  const r =
    await sql<AppealRow>`SELECT ${APPEAL_COLUMNS} FROM moderation.appeals WHERE id = ${id}::uuid FOR UPDATE`.execute(
      trx,
    );
  return r.rows[0];
}

export async function decideAppeal(
  trx: ModerationDb,
  id: string,
  d: { state: "upheld" | "overturned"; by: string; reason: string },
): Promise<AppealRow> {
  const r = await sql<AppealRow>`UPDATE moderation.appeals SET state = ${d.state}, decided_by = ${d.by}::uuid,
      decision_reason = ${d.reason}, decided_at = now()
    WHERE id = ${id}::uuid RETURNING ${APPEAL_COLUMNS}`.execute(trx);
  return r.rows[0] as AppealRow;
}

// ---- account erasure (identity's AccountErased)

/**
 * Forgets an erased user: the reports they filed go (and subjects left with no report and no
 * decision), their standing goes; wherever the moderation records name them (a subject's owner, an
 * action's account or moderator, an appeal's appellant or decider, a sender in attached messages)
 * their audit pseudonym names them instead, and then the pseudonym's row goes: the records and the
 * append-only audit log keep an opaque id that nothing leads back from. Idempotent.
 */
export async function forgetPerson(trx: ModerationDb, userId: string): Promise<void> {
  const p = (await pseudonymsOf(trx, [userId])).get(userId) as string;
  await sql`DELETE FROM moderation.reports WHERE reporter_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM moderation.subjects s WHERE s.state = 'open'
    AND NOT EXISTS (SELECT 1 FROM moderation.reports r WHERE r.subject_ref = s.id)`.execute(trx);
  await sql`DELETE FROM moderation.standing WHERE user_id = ${userId}::uuid`.execute(trx);
  await sql`UPDATE moderation.subjects SET user_id = ${p}::uuid,
      subject_id = CASE WHEN subject_id = ${userId}::uuid THEN ${p}::uuid ELSE subject_id END
    WHERE user_id = ${userId}::uuid OR subject_id = ${userId}::uuid`.execute(trx);
  await sql`UPDATE moderation.reports SET messages = replace(messages::text, ${userId}, ${p})::jsonb
    WHERE messages::text LIKE ${`%${userId}%`}`.execute(trx);
  await sql`UPDATE moderation.actions SET
      user_id = CASE WHEN user_id = ${userId}::uuid THEN ${p}::uuid ELSE user_id END,
      actor_id = CASE WHEN actor_id = ${userId}::uuid THEN ${p}::uuid ELSE actor_id END,
      subject_id = CASE WHEN subject_id = ${userId}::uuid THEN ${p}::uuid ELSE subject_id END
    WHERE ${userId}::uuid IN (user_id, actor_id, subject_id)`.execute(trx);
  await sql`UPDATE moderation.appeals SET
      appellant_id = CASE WHEN appellant_id = ${userId}::uuid THEN ${p}::uuid ELSE appellant_id END,
      decided_by = CASE WHEN decided_by = ${userId}::uuid THEN ${p}::uuid ELSE decided_by END
    WHERE ${userId}::uuid IN (appellant_id, decided_by)`.execute(trx);
  await sql`DELETE FROM moderation.pseudonyms WHERE user_id = ${userId}::uuid`.execute(trx);
}
