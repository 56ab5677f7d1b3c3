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
import { applyEvent, type PostLanguage } from "./consumers.ts";
import { type PostDoc, postgresIndex, type SearchIndex, type UserDoc } from "./projection.ts";
import {
  claimJob,
  deadLetter,
  dropParked,
  jobAbandoned,
  jobDone,
  jobFailed,
  jobPhaseDone,
  jobProgress,
  lockState,
  parkedBatch,
  setParkingJob,
  startJob,
} from "./queries.ts";

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

/** What one rebuild works with; `running()` turns false when the module stops. */
interface Rebuild {
  db: Kysely<unknown>;
  sources: Sources;
  postLanguage: PostLanguage;
  log: Logger;
  index: SearchIndex;
  running: () => boolean;
}

export function createReindexer(opts: {
  db: Kysely<unknown>;
  sources: Sources;
  postLanguage: PostLanguage;
  log: Logger;
  pollMs?: number;
  /** Where documents are written (PostgreSQL unless a deployment plugs in another backend). */
  index?: SearchIndex;
}) {
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const rebuild: Rebuild = {
    db: opts.db,
    sources: opts.sources,
    postLanguage: opts.postLanguage,
    log: opts.log,
    index: opts.index ?? postgresIndex,
    running: () => running,
  };

  const tick = async () => {
    const id = await claimJob(opts.db, STALE_S);
    if (id) await run(rebuild, id);
  };
  const loop = () => {
    if (!running) return;
    current = tick()
      .catch((err) => opts.log.warn({ err }, "search: reindex poll failed"))
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

/** One job: switch the consumer to parking, scan, sweep, hand back; a failure still hands back. */
async function run(r: Rebuild, id: string): Promise<void> {
  const t0 = Date.now();
  const j0 = await startParking(r.db, id);
  r.log.info({ job: id, since: j0 }, "search: rebuilding the projection from the source services");
  try {
    const summary = { ...(await rebuildFrom(r, id, j0)), seconds: (Date.now() - t0) / 1000 };
    await jobDone(r.db, id, summary);
    jobs.inc({ outcome: "done" });
    r.log.info({ job: id, ...summary }, "search: projection rebuilt");
  } catch (err) {
    if (err instanceof Stopping) {
      // Left running for the next process to take over at once; events stay parked meanwhile.
      await jobAbandoned(r.db, id);
      return;
    }
    r.log.error({ err, job: id }, "search: rebuild failed; replaying the parked events and resuming the consumer");
    const parked = await handBackPersistently(r, id);
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    await jobFailed(r.db, id, error, parked);
    jobs.inc({ outcome: "failed" });
  }
}

/** Switches the consumer to parking; J0 is taken under the lock (after every transaction that applied directly). */
function startParking(db: Kysely<unknown>, id: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    await lockState(trx);
    await setParkingJob(trx, id);
    return startJob(trx, id);
  });
}

/** Steps 2 to 5: the scans, the sweep of what they did not touch, the replay and hand-back. */
async function rebuildFrom(r: Rebuild, id: string, j0: string) {
  const { sources, index } = r;
  const users = await scan(r, id, "users", sources.users, (trx, items) => index.writeUsers(trx, items));
  const posts = await scan(r, id, "posts", sources.posts, (trx, items) => index.writePosts(trx, items));
  const blocks = await scan(r, id, "blocks", sources.blocks, (trx, items) => index.writeBlocks(trx, items));
  await jobProgress(r.db, id, "sweep", 0, 0);
  const removed = await index.sweep(r.db, j0);
  const parked = await handBack(r, id);
  return { users, posts, blocks, removed, replayed: parked };
}

/** Pages through one source, writing each page in its own transaction; returns how many items it wrote. */
async function scan<T>(
  r: Rebuild,
  id: string,
  phase: string,
  page: (cursor: string) => Promise<ScanPage<T>>,
  write: (trx: Transaction<unknown>, items: T[]) => Promise<void>,
): Promise<number> {
  let cursor = "";
  let done = 0;
  let total = 0;
  await jobProgress(r.db, id, phase, 0, 0);
  do {
    if (!r.running()) throw new Stopping("stopping");
    const p = await page(cursor);
    if (p.total !== undefined) total = p.total;
    await r.db.transaction().execute((trx) => write(trx, p.items));
    done += p.items.length;
    await jobProgress(r.db, id, phase, done, Math.max(total, done));
    cursor = p.next;
  } while (cursor !== "");
  // A phase can end between two polls of the CLI: its final count stays on the job for the CLI to draw.
  await jobPhaseDone(r.db, id, phase, done);
  return done;
}

/** Replays up to REPLAY_BATCH parked events in order inside `trx`; returns how many. */
async function replay(r: Rebuild, trx: Transaction<unknown>): Promise<number> {
  const rows = await parkedBatch(trx, REPLAY_BATCH);
  for (const row of rows) await replayOne(r, trx, row.envelope);
  const last = rows[rows.length - 1];
  if (last) await dropParked(trx, last.seq);
  replayed.inc(rows.length);
  return rows.length;
}

/** One parked event, under a savepoint: one that fails goes to the DLQ, as the consumer's would after its attempts. */
async function replayOne(r: Rebuild, trx: Transaction<unknown>, envelope: unknown): Promise<void> {
  let event: Envelope | undefined;
  await sql`SAVEPOINT replay_one`.execute(trx);
  try {
    event = parseEnvelope(envelope);
    await applyEvent(trx, event, r.postLanguage, r.index);
    await sql`RELEASE SAVEPOINT replay_one`.execute(trx);
  } catch (err) {
    // As the consumer would after its attempts: park it in the DLQ, with its error, and go on.
    await sql`ROLLBACK TO SAVEPOINT replay_one`.execute(trx);
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    await deadLetter(trx, { eventId: event?.id ?? null, envelope, error });
    r.log.error({ err, event: event?.id }, "search: a parked event could not be replayed; it is in the DLQ");
  }
}

/** Replays what was parked, then hands the events back to the consumer (job_id cleared in the last transaction). */
async function handBack(r: Rebuild, id: string): Promise<number> {
  let n = 0;
  await jobProgress(r.db, id, "replay", 0, 0);
  for (;;) {
    const k = await r.db.transaction().execute((trx) => replay(r, trx));
    n += k;
    await jobProgress(r.db, id, "replay", n, n);
    if (k < REPLAY_BATCH) break;
  }
  return r.db.transaction().execute(async (trx) => {
    await lockState(trx);
    for (;;) {
      const k = await replay(r, trx);
      n += k;
      if (k < REPLAY_BATCH) break;
    }
    await setParkingJob(trx, null);
    return n;
  });
}

async function handBackPersistently(r: Rebuild, id: string): Promise<number> {
  for (let delay = 500; ; delay = Math.min(10_000, delay * 2)) {
    try {
      return await handBack(r, id);
    } catch (err) {
      if (!r.running()) throw new Stopping("stopping");
      r.log.warn({ err, job: id }, "search: hand-back failed; retrying");
      await new Promise((res) => setTimeout(res, delay));
    }
  }
}
