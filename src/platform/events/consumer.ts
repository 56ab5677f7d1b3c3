/**
 * Idempotent consumers. The effect and a processed_events(consumer, event_id)
 * row commit in one transaction, so a redelivered event is recognised and
 * skipped: delivery is at-least-once, effects exactly-once. A failing event is
 * retried with backoff; after `maxAttempts` it is parked in the DLQ table of
 * the consumer's schema with its error, and the consumer moves on.
 * The same handler code runs on Kafka and on the embedded Postgres log.
 */
import { context, type Link, SpanKind, trace } from "@opentelemetry/api";
import { type Kysely, sql, type Transaction } from "kysely";
import type { Logger } from "pino";
import { counter, gauge } from "../observability/metrics.ts";
import { extractTrace, tracer, withSpan } from "../observability/tracing.ts";
import { uuidv7 } from "../validate.ts";
import { type Envelope, parseEnvelope } from "./envelope.ts";

export interface EventHandler {
  /** Unique consumer name (also the Kafka consumer group). */
  name: string;
  /** The schema holding this consumer's processed_events and dlq tables. */
  schema: string;
  topics: string[];
  /** Applies the effect inside `trx`. Throwing rolls it back and counts an attempt. */
  handle(event: Envelope, trx: Transaction<unknown>): Promise<void>;
  /**
   * Optional: applies several events at once with the same effect as `handle` on each in order, in
   * fewer round trips (a consumer catching up gets batches of hundreds). Throwing rolls the batch
   * back; its events are then applied one at a time through `handle`, which finds the one at fault.
   */
  handleBatch?(events: Envelope[], trx: Transaction<unknown>): Promise<void>;
  maxAttempts?: number;
}

export type Outcome = "applied" | "duplicate" | "dead";

const handled = counter("nova_consumer_events_total", "Events handled, by consumer and outcome", [
  "consumer",
  "outcome",
]);
const dlqOpen = gauge("nova_dlq_messages", "Open DLQ entries, by consumer (refreshed by the running consumers)", [
  "consumer",
]);
const failures = counter("nova_consumer_failures_total", "Failed attempts, by consumer", ["consumer"]);

/** The effect and its processed_events row, inside `trx`; a redelivered event is a no-op. */
async function applyIn(trx: Transaction<unknown>, h: EventHandler, event: Envelope): Promise<"applied" | "duplicate"> {
  const claimed = await sql<{ event_id: string }>`
    INSERT INTO ${sql.table(`${h.schema}.processed_events`)} (consumer, event_id)
    VALUES (${h.name}, ${event.id}::uuid) ON CONFLICT DO NOTHING RETURNING event_id`.execute(trx);
  if (claimed.rows.length === 0) return "duplicate";
  await h.handle(event, trx);
  return "applied";
}

/** One attempt: effect + processed_events row in one transaction. */
export async function applyOnce(
  db: Kysely<unknown>,
  h: EventHandler,
  event: Envelope,
): Promise<"applied" | "duplicate"> {
  return db.transaction().execute((trx) => applyIn(trx, h, event));
}

function parseRaw(raw: unknown): Envelope {
  return parseEnvelope(typeof raw === "string" ? JSON.parse(raw) : raw);
}

const traceOf = (event: Envelope) => extractTrace((k) => (k === "traceparent" ? event.traceparent : undefined));

function consumeSpan<T>(event: Envelope, fn: () => Promise<T>): Promise<T> {
  return withSpan(`consume ${event.type}`, SpanKind.CONSUMER, fn, traceOf(event) ?? context.active());
}

/** One span for a batch handled at once, linked to each event's trace (the OpenTelemetry way for batches). */
async function consumeBatchSpan<T>(name: string, events: Envelope[], fn: () => Promise<T>): Promise<T> {
  const links: Link[] = [];
  for (const e of events) {
    const ctx = e.traceparent ? trace.getSpanContext(traceOf(e)) : undefined;
    if (ctx) links.push({ context: ctx });
  }
  const span = tracer().startSpan(`consume batch ${name}`, {
    kind: SpanKind.CONSUMER,
    links,
    attributes: { "messaging.batch.message_count": events.length },
  });
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    span.recordException(err as Error);
    throw err;
  } finally {
    span.end();
  }
}

export interface DeliverOptions {
  log: Logger;
  /** Delay before attempt n (1-based) is retried. */
  backoffMs?: (attempt: number) => number;
  /** Called when an event is parked (e.g. to also publish it to the DLQ topic). */
  onDead?: (row: {
    consumer: string;
    topic: string;
    envelope: unknown;
    error: string;
    attempts: number;
  }) => Promise<void>;
}

const defaultBackoff = (attempt: number) => Math.min(5_000, 50 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

/** Delivers one raw message to a handler: parse, attempts with backoff, DLQ. Never throws for a bad event. */
export async function deliver(
  db: Kysely<unknown>,
  h: EventHandler,
  topic: string,
  raw: unknown,
  opts: DeliverOptions,
): Promise<Outcome> {
  let event: Envelope;
  try {
    event = parseRaw(raw);
  } catch (err) {
    await park(db, h, topic, raw, err, 1, opts);
    return "dead";
  }
  return consumeSpan(event, async () => {
    const max = h.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await applyOnce(db, h, event);
        handled.inc({ consumer: h.name, outcome });
        return outcome;
      } catch (err) {
        failures.inc({ consumer: h.name });
        if (attempt >= max) {
          await park(db, h, topic, event, err, attempt, opts);
          return "dead";
        }
        opts.log.warn({ err, consumer: h.name, event: event.id, attempt }, "event handler failed; retrying");
        await new Promise((r) => setTimeout(r, (opts.backoffMs ?? defaultBackoff)(attempt)));
      }
    }
  });
}

export interface RawEvent {
  topic: string;
  raw: unknown;
}

/** Thrown inside a batch transaction to roll it back at the first event that cannot be applied. */
class StopAt extends Error {
  constructor(readonly index: number) {
    super(`batch stopped at ${index}`);
  }
}

/** Thrown when `handleBatch` failed: the same events are applied again one at a time. */
class WholeBatchFailed extends Error {
  constructor(readonly error: unknown) {
    super("handleBatch failed");
  }
}

/**
 * Delivers a batch in order in ONE transaction: one statement claims every
 * event's processed_events row (duplicates drop out), then the handlers run
 * for the fresh ones (all at once through `handleBatch` when the handler has
 * one), then one commit. If an event cannot be parsed or its handler throws,
 * the transaction rolls back; the prefix before it is applied again on its
 * own, and that event goes through `deliver` (attempts, backoff, DLQ) before
 * the rest continue: order is kept and nothing is skipped. A failed
 * `handleBatch` sends the same events through `handle` one by one, which finds
 * the event at fault.
 */
export async function deliverBatch(
  db: Kysely<unknown>,
  h: EventHandler,
  items: RawEvent[],
  opts: DeliverOptions,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let i = 0;
  let limit = items.length;
  let whole = h.handleBatch !== undefined;
  while (i < items.length) {
    const end = limit;
    let done: ("applied" | "duplicate")[] = [];
    let stop = end;
    try {
      done = await db.transaction().execute(async (trx) => {
        const events: Envelope[] = [];
        for (let j = i; j < end; j++) {
          try {
            events.push(parseRaw((items[j] as RawEvent).raw));
          } catch {
            if (j === i) throw new StopAt(j);
            break;
          }
        }
        const ids = events.map((e) => e.id);
        const fresh = new Set(
          (
            await sql<{ event_id: string }>`
              INSERT INTO ${sql.table(`${h.schema}.processed_events`)} (consumer, event_id)
              SELECT ${h.name}, x FROM unnest(${ids}::uuid[]) AS x
              ON CONFLICT DO NOTHING RETURNING event_id::text AS event_id`.execute(trx)
          ).rows.map((r) => r.event_id),
        );
        // Already processed, or a second copy within this batch: a duplicate.
        const out = events.map((e): "applied" | "duplicate" => (fresh.delete(e.id) ? "applied" : "duplicate"));
        const todo = events.filter((_, n) => out[n] === "applied");
        if (whole && h.handleBatch && todo.length > 1) {
          const batch = h.handleBatch.bind(h);
          try {
            await consumeBatchSpan(h.name, todo, () => batch(todo, trx));
          } catch (err) {
            throw new WholeBatchFailed(err);
          }
          return out;
        }
        for (const [n, event] of events.entries()) {
          if (out[n] === "duplicate") continue;
          try {
            await consumeSpan(event, () => h.handle(event, trx));
          } catch {
            throw new StopAt(i + n);
          }
        }
        return out;
      });
    } catch (err) {
      if (err instanceof StopAt) stop = err.index;
      else if (err instanceof WholeBatchFailed) {
        opts.log.debug({ err: err.error, consumer: h.name }, "handleBatch failed; applying the events one at a time");
        whole = false;
        stop = end;
      } else {
        opts.log.warn({ err, consumer: h.name }, "batch failed; delivering its first event on its own");
        stop = i;
      }
      done = [];
    }
    if (done.length > 0) {
      for (const o of done) handled.inc({ consumer: h.name, outcome: o });
      outcomes.push(...done);
      i += done.length;
      limit = items.length;
      whole = h.handleBatch !== undefined;
      continue;
    }
    if (stop > i) {
      // Apply the good prefix on its own first.
      limit = stop;
      continue;
    }
    const item = items[i] as RawEvent;
    outcomes.push(await deliver(db, h, item.topic, item.raw, opts));
    i++;
    limit = items.length;
  }
  return outcomes;
}

async function park(
  db: Kysely<unknown>,
  h: EventHandler,
  topic: string,
  envelope: unknown,
  err: unknown,
  attempts: number,
  opts: DeliverOptions,
): Promise<void> {
  const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const eventId = (envelope as { id?: unknown } | null)?.id;
  const id = typeof eventId === "string" && /^[0-9a-f-]{36}$/i.test(eventId) ? eventId : null;
  const stored = typeof envelope === "string" ? { raw: envelope } : envelope;
  await sql`INSERT INTO ${sql.table(`${h.schema}.dlq`)} (id, consumer, topic, event_id, envelope, error, attempts)
            VALUES (${uuidv7()}::uuid, ${h.name}, ${topic}, ${id}::uuid, ${JSON.stringify(stored)}::jsonb, ${error}, ${attempts})`.execute(
    db,
  );
  handled.inc({ consumer: h.name, outcome: "dead" });
  opts.log.error({ consumer: h.name, topic, event: id, attempts, error }, "event parked in the DLQ");
  try {
    await opts.onDead?.({ consumer: h.name, topic, envelope: stored, error, attempts });
  } catch (err) {
    // The DLQ table row is committed and is what replay uses; the topic copy is best effort.
    opts.log.warn({ err, consumer: h.name }, "could not publish the parked event to the DLQ topic");
  }
}

export interface DlqRow {
  id: string;
  consumer: string;
  topic: string;
  event_id: string | null;
  envelope: unknown;
  error: string;
  attempts: number;
  created_at: Date;
}

export async function listDlq(db: Kysely<unknown>, schema: string, consumer?: string): Promise<DlqRow[]> {
  const r = await sql<DlqRow>`SELECT id, consumer, topic, event_id, envelope, error, attempts, created_at
    FROM ${sql.table(`${schema}.dlq`)} WHERE replayed_at IS NULL
    ${consumer ? sql`AND consumer = ${consumer}` : sql``} ORDER BY created_at`.execute(db);
  return r.rows;
}

/**
 * Replays a parked event through its handler once; on success the DLQ row is
 * closed. Returns the outcome; a failure leaves the row open with the new error.
 */
export async function replayDlq(
  db: Kysely<unknown>,
  handlers: EventHandler[],
  schema: string,
  id: string,
  log: Logger,
): Promise<Outcome | "failed"> {
  const r =
    await sql<DlqRow>`SELECT * FROM ${sql.table(`${schema}.dlq`)} WHERE id = ${id}::uuid AND replayed_at IS NULL`.execute(
      db,
    );
  const row = r.rows[0];
  if (!row) throw new Error(`no open DLQ entry ${id} in ${schema}`);
  const h = handlers.find((x) => x.name === row.consumer);
  if (!h) throw new Error(`no consumer named ${row.consumer}`);
  try {
    const outcome = await applyOnce(db, h, parseEnvelope(row.envelope));
    await sql`UPDATE ${sql.table(`${schema}.dlq`)} SET replayed_at = now() WHERE id = ${id}::uuid`.execute(db);
    handled.inc({ consumer: h.name, outcome });
    return outcome;
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    await sql`UPDATE ${sql.table(`${schema}.dlq`)} SET error = ${error}, attempts = attempts + 1, replay_requested_at = NULL WHERE id = ${id}::uuid`.execute(
      db,
    );
    log.warn({ err, id }, "DLQ replay failed");
    return "failed";
  }
}

/**
 * Asks the running consumers to replay open DLQ entries (`nova dlq replay`):
 * one entry by id, or every open entry (of one consumer). Returns the ids asked for.
 */
export async function requestReplay(
  db: Kysely<unknown>,
  schema: string,
  which: { id: string } | { consumer?: string },
): Promise<string[]> {
  const filter =
    "id" in which ? sql`id = ${which.id}::uuid` : which.consumer ? sql`consumer = ${which.consumer}` : sql`true`;
  const r = await sql<{ id: string }>`UPDATE ${sql.table(`${schema}.dlq`)} SET replay_requested_at = now()
    WHERE replayed_at IS NULL AND ${filter} RETURNING id::text AS id`.execute(db);
  return r.rows.map((x) => x.id);
}

/** The state of DLQ entries after a replay request: closed, failed again (with the error), or still pending. */
export async function replayStatus(
  db: Kysely<unknown>,
  schema: string,
  ids: string[],
): Promise<{ id: string; state: "replayed" | "failed" | "pending"; error: string }[]> {
  if (ids.length === 0) return [];
  const r = await sql<{ id: string; replayed: boolean; requested: boolean; error: string }>`
    SELECT id::text AS id, replayed_at IS NOT NULL AS replayed, replay_requested_at IS NOT NULL AS requested, error
      FROM ${sql.table(`${schema}.dlq`)} WHERE id = ANY(${ids}::uuid[])`.execute(db);
  return r.rows.map((x) => ({
    id: x.id,
    state: x.replayed ? "replayed" : x.requested ? "pending" : "failed",
    error: x.error,
  }));
}

/** Serves replay requests for this process's handlers: polls each schema's DLQ for requested entries. */
export function serveReplayRequests(
  db: Kysely<unknown>,
  handlers: EventHandler[],
  log: Logger,
  everyMs = 1_000,
): { stop(): Promise<void> } {
  const bySchema = new Map<string, EventHandler[]>();
  for (const h of handlers) bySchema.set(h.schema, [...(bySchema.get(h.schema) ?? []), h]);
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const tick = async () => {
    for (const [schema, hs] of bySchema) {
      const open = await sql<{ consumer: string; n: number }>`SELECT consumer, count(*)::int AS n
        FROM ${sql.table(`${schema}.dlq`)} WHERE replayed_at IS NULL AND consumer = ANY(${hs.map((h) => h.name)}::text[])
        GROUP BY consumer`.execute(db);
      for (const h of hs) dlqOpen.set({ consumer: h.name }, open.rows.find((r) => r.consumer === h.name)?.n ?? 0);
      const r = await sql<{ id: string }>`SELECT id::text AS id FROM ${sql.table(`${schema}.dlq`)}
        WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL
          AND consumer = ANY(${hs.map((h) => h.name)}::text[]) ORDER BY created_at LIMIT 100`.execute(db);
      for (const { id } of r.rows) {
        if (!running) return;
        const outcome = await replayDlq(db, hs, schema, id, log).catch((err) => {
          log.warn({ err, id }, "DLQ replay skipped");
          return "failed";
        });
        log.info({ id, schema, outcome }, "DLQ entry replayed");
      }
    }
  };
  const loop = () => {
    if (!running) return;
    current = tick()
      .catch((err) => log.warn({ err }, "DLQ replay poll failed"))
      .finally(() => {
        if (running) timer = setTimeout(loop, everyMs);
      });
  };
  timer = setTimeout(loop, everyMs);
  return {
    async stop() {
      running = false;
      clearTimeout(timer);
      await current;
    },
  };
}
