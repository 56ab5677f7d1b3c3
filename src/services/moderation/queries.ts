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
