/**
 * Idempotent consumers. The effect and a processed_events(consumer, event_id)
 * row commit in one transaction, so a redelivered event is recognised and
 * skipped: delivery is at-least-once, effects exactly-once. A failing event is
 * retried with backoff; after `maxAttempts` it is parked in the DLQ table of
 * the consumer's schema with its error, and the consumer moves on.
 * The same handler code runs on Kafka and on the embedded Postgres log.
 */
import { context, SpanKind } from "@opentelemetry/api";
import { type Kysely, sql, type Transaction } from "kysely";
import type { Logger } from "pino";
import { uuidv7 } from "../ids.ts";
import { counter } from "../observability/metrics.ts";
import { extractTrace, withSpan } from "../observability/tracing.ts";
import { type Envelope, parseEnvelope } from "./envelope.ts";

export interface EventHandler {
  /** Unique consumer name (also the Kafka consumer group). */
  name: string;
  /** The schema holding this consumer's processed_events and dlq tables. */
  schema: string;
  topics: string[];
  /** Applies the effect inside `trx`. Throwing rolls it back and counts an attempt. */
  handle(event: Envelope, trx: Transaction<unknown>): Promise<void>;
  maxAttempts?: number;
}

export type Outcome = "applied" | "duplicate" | "dead";

const handled = counter("nova_consumer_events_total", "Events handled, by consumer and outcome", [
  "consumer",
  "outcome",
]);
const failures = counter("nova_consumer_failures_total", "Failed attempts, by consumer", ["consumer"]);

/** One attempt: effect + processed_events row in one transaction. */
export async function applyOnce(
  db: Kysely<unknown>,
  h: EventHandler,
  event: Envelope,
): Promise<"applied" | "duplicate"> {
  return db.transaction().execute(async (trx) => {
    const claimed = await sql<{ event_id: string }>`
      INSERT INTO ${sql.table(`${h.schema}.processed_events`)} (consumer, event_id)
      VALUES (${h.name}, ${event.id}::uuid) ON CONFLICT DO NOTHING RETURNING event_id`.execute(trx);
    if (claimed.rows.length === 0) return "duplicate";
    await h.handle(event, trx);
    return "applied";
  });
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
    event = parseEnvelope(typeof raw === "string" ? JSON.parse(raw) : raw);
  } catch (err) {
    await park(db, h, topic, raw, err, 1, opts);
    return "dead";
  }
  const parent = extractTrace((k) => (k === "traceparent" ? event.traceparent : undefined));
  return withSpan(
    `consume ${event.type}`,
    SpanKind.CONSUMER,
    async () => {
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
    },
    parent ?? context.active(),
  );
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
  await opts.onDead?.({ consumer: h.name, topic, envelope: stored, error, attempts });
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
    await sql`UPDATE ${sql.table(`${schema}.dlq`)} SET error = ${error}, attempts = attempts + 1 WHERE id = ${id}::uuid`.execute(
      db,
    );
    log.warn({ err, id }, "DLQ replay failed");
    return "failed";
  }
}
