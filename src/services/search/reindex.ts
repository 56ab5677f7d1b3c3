/**
 * Rebuilding the search projection from the source services (`nova search
 * reindex`), and handing back to the event consumer with no gap:
 *
 * 1. The job sets reindex_state.job_id. The consumer reads that row FOR SHARE
 *    in each of its transactions, so the switch waits for the transactions in
 *    flight; from then on the consumer keeps consuming (its offsets advance,
 *    Kafka or the Postgres log alike) but parks each event in reindex_buffer.
 * 2. The job pages through identity's ScanUsers, content's ScanPosts and
 *    graph's ScanBlocks (RPCs, in-process or remote as the topology says) and
 *    overwrites the projection with what they return (every row touched).
 * 3. Rows the scan did not touch (touched before the job) are gone at the
 *    source: they are removed.
 * 4. The parked events are replayed in order. Each sets the full state of what
 *    it touches, so an event the scan already reflects converges to the same
 *    state, and any later change of a row is parked after it.
 * 5. The last replay and clearing job_id commit together, under the row lock:
 *    the next event the consumer takes is applied directly.
 *
 * If the scan fails, the parked events are still replayed and the consumer
 * resumes (the projection is then the old one refreshed by what was scanned);
 * the job is marked failed. If the process dies, the job stays `running`
 * (events keep being parked) and is taken over once its heartbeat is 30 s old.
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type { Logger } from "pino";
import { type Envelope, parseEnvelope } from "../../platform/events/envelope.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { uuidv7 } from "../../platform/validate.ts";
import { applyEvent, type PostDoc, postgresIndex, type SearchIndex, type UserDoc } from "./projection.ts";

export interface ScanPage<T> {
  items: T[];
  next: string;
  /** Set on the first page. */
  total?: number;
}

/** The source services, page by page (the module backs these with RPC clients). */
export interface Sources {
  users(cursor: string): Promise<ScanPage<UserDoc>>;
  posts(cursor: string): Promise<ScanPage<PostDoc>>;
  blocks(cursor: string): Promise<ScanPage<{ blockerId: string; blockedId: string }>>;
}

const replayed = counter("nova_search_reindex_replayed_total", "Events parked during a rebuild and replayed after it");
const jobs = counter("nova_search_reindex_jobs_total", "Rebuilds of the search projection, by outcome", ["outcome"]);

const STALE_S = 30;
const REPLAY_BATCH = 500;

class Stopping extends Error {}

/**
 * The oldest parked events, in the order they were parked. The key is ordered as the column: the text
 * alias `seq` in ORDER BY would sort '10' before '9', replaying out of order across a power of ten.
 */
export async function parkedBatch(
  db: Kysely<unknown> | Transaction<unknown>,
  limit: number,
): Promise<{ seq: string; envelope: unknown }[]> {
  const r = await sql<{ seq: string; envelope: unknown }>`SELECT b.seq::text AS seq, b.envelope
    FROM search.reindex_buffer b ORDER BY b.seq LIMIT ${limit}`.execute(db);
  return r.rows;
}

export function createReindexer(opts: {
  db: Kysely<unknown>;
  sources: Sources;
  postLanguage: (payload: Record<string, unknown>) => string;
  log: Logger;
  pollMs?: number;
  /** Where documents are written (PostgreSQL unless a deployment plugs in another backend). */
  index?: SearchIndex;
}) {
  const { db, sources, log } = opts;
  const index = opts.index ?? postgresIndex;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const progress = (id: string, phase: string, done: number, total: number) =>
    sql`UPDATE search.reindex_jobs SET phase = ${phase}, done = ${done}, total = ${total}, heartbeat_at = now()
      WHERE id = ${id}::uuid`.execute(db);

  async function scan<T>(
    id: string,
    phase: string,
    page: (cursor: string) => Promise<ScanPage<T>>,
    write: (trx: Transaction<unknown>, items: T[]) => Promise<void>,
  ): Promise<number> {
    let cursor = "";
    let done = 0;
    let total = 0;
    await progress(id, phase, 0, 0);
    do {
      if (!running) throw new Stopping("stopping");
      const p = await page(cursor);
      if (p.total !== undefined) total = p.total;
      await db.transaction().execute((trx) => write(trx, p.items));
      done += p.items.length;
      await progress(id, phase, done, Math.max(total, done));
      cursor = p.next;
    } while (cursor !== "");
    // A phase can end between two polls of the CLI: its final count stays on the job for the CLI to draw.
    await sql`UPDATE search.reindex_jobs SET summary = jsonb_set(coalesce(summary, '{}'::jsonb), '{phases}',
        coalesce(summary->'phases', '{}'::jsonb) || jsonb_build_object(${phase}::text, ${done}::bigint))
      WHERE id = ${id}::uuid`.execute(db);
    return done;
  }

  /** Replays parked events in order; with `final`, drains all of them inside `trx` (which holds the state lock). */
  async function replay(trx: Transaction<unknown>): Promise<number> {
    const rows = await parkedBatch(trx, REPLAY_BATCH);
    for (const row of rows) {
      let event: Envelope | undefined;
      await sql`SAVEPOINT replay_one`.execute(trx);
      try {
        event = parseEnvelope(row.envelope);
        await applyEvent(trx, event, opts.postLanguage, index);
        await sql`RELEASE SAVEPOINT replay_one`.execute(trx);
      } catch (err) {
        // As the consumer would after its attempts: park it in the DLQ, with its error, and go on.
        await sql`ROLLBACK TO SAVEPOINT replay_one`.execute(trx);
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        await sql`INSERT INTO search.dlq (id, consumer, topic, event_id, envelope, error, attempts)
          VALUES (${uuidv7()}::uuid, 'search.index', 'search.reindex_buffer', ${event?.id ?? null}::uuid,
            ${JSON.stringify(row.envelope)}::jsonb, ${error}, 1)`.execute(trx);
        log.error({ err, event: event?.id }, "search: a parked event could not be replayed; it is in the DLQ");
      }
    }
    const last = rows[rows.length - 1];
    if (last) await sql`DELETE FROM search.reindex_buffer WHERE seq <= ${last.seq}::bigint`.execute(trx);
    replayed.inc(rows.length);
    return rows.length;
  }

  /** Replays what was parked, then hands the events back to the consumer (job_id cleared in the last transaction). */
  async function handBack(id: string): Promise<number> {
    let n = 0;
    await progress(id, "replay", 0, 0);
    for (;;) {
      const k = await db.transaction().execute(replay);
      n += k;
      await progress(id, "replay", n, n);
      if (k < REPLAY_BATCH) break;
    }
    return db.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM search.reindex_state FOR UPDATE`.execute(trx);
      for (;;) {
        const k = await replay(trx);
        n += k;
        if (k < REPLAY_BATCH) break;
      }
      await sql`UPDATE search.reindex_state SET job_id = NULL`.execute(trx);
      return n;
    });
  }

  async function run(id: string): Promise<void> {
    const t0 = Date.now();
    // Switch the consumer to parking; J0 is taken under the lock (after every transaction that applied directly).
    const j0 = await db.transaction().execute(async (trx) => {
      await sql`SELECT 1 FROM search.reindex_state FOR UPDATE`.execute(trx);
      await sql`UPDATE search.reindex_state SET job_id = ${id}::uuid`.execute(trx);
      const r = await sql<{ started_at: string }>`UPDATE search.reindex_jobs
        SET started_at = coalesce(started_at, clock_timestamp()), heartbeat_at = now()
        WHERE id = ${id}::uuid RETURNING to_json(started_at) #>> '{}' AS started_at`.execute(trx);
      return r.rows[0]?.started_at as string;
    });
    log.info({ job: id, since: j0 }, "search: rebuilding the projection from the source services");
    try {
      const users = await scan(id, "users", sources.users, (trx, items) => index.writeUsers(trx, items));
      const posts = await scan(id, "posts", sources.posts, (trx, items) => index.writePosts(trx, items));
      const blocks = await scan(id, "blocks", sources.blocks, (trx, items) => index.writeBlocks(trx, items));
      await progress(id, "sweep", 0, 0);
      const removed = await index.sweep(db, j0);
      const parked = await handBack(id);
      const summary = { users, posts, blocks, removed, replayed: parked, seconds: (Date.now() - t0) / 1000 };
      await sql`UPDATE search.reindex_jobs SET state = 'done', phase = 'done', finished_at = now(),
        summary = coalesce(summary, '{}'::jsonb) || ${JSON.stringify(summary)}::jsonb WHERE id = ${id}::uuid`.execute(
        db,
      );
      jobs.inc({ outcome: "done" });
      log.info({ job: id, ...summary }, "search: projection rebuilt");
    } catch (err) {
      if (err instanceof Stopping) {
        // Left running for the next process to take over at once; events stay parked meanwhile.
        await sql`UPDATE search.reindex_jobs SET heartbeat_at = '-infinity' WHERE id = ${id}::uuid`.execute(db);
        return;
      }
      log.error({ err, job: id }, "search: rebuild failed; replaying the parked events and resuming the consumer");
      const parked = await handBackPersistently(id);
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      await sql`UPDATE search.reindex_jobs SET state = 'failed', finished_at = now(), error = ${error},
        summary = ${JSON.stringify({ replayed: parked })}::jsonb WHERE id = ${id}::uuid`.execute(db);
      jobs.inc({ outcome: "failed" });
    }
  }

  async function handBackPersistently(id: string): Promise<number> {
    for (let delay = 500; ; delay = Math.min(10_000, delay * 2)) {
      try {
        return await handBack(id);
      } catch (err) {
        if (!running) throw new Stopping("stopping");
        log.warn({ err, job: id }, "search: hand-back failed; retrying");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Takes a requested job, or one whose process stopped beating. */
  async function claim(): Promise<string | undefined> {
    const r = await sql<{ id: string }>`UPDATE search.reindex_jobs SET state = 'running', heartbeat_at = now()
      WHERE id = (SELECT id FROM search.reindex_jobs
                   WHERE state = 'requested' OR (state = 'running' AND heartbeat_at < now() - make_interval(secs => ${STALE_S}))
                   ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id::text AS id`.execute(db);
    return r.rows[0]?.id;
  }

  const tick = async () => {
    const id = await claim();
    if (id) await run(id);
  };
  const loop = () => {
    if (!running) return;
    current = tick()
      .catch((err) => log.warn({ err }, "search: reindex poll failed"))
      .finally(() => {
        if (running) timer = setTimeout(loop, opts.pollMs ?? 1_000);
      });
  };
  timer = setTimeout(loop, opts.pollMs ?? 1_000);
  return {
    async stop() {
      running = false;
      clearTimeout(timer);
      await current;
    },
  };
}
