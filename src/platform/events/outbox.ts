/**
 * The outbox writer. It takes the caller's transaction and nothing else, so an
 * event can only be written together with the change it describes.
 */
import { type Kysely, sql, type Transaction } from "kysely";
import { injectTrace } from "../observability/tracing.ts";
import { uuidv7 } from "../validate.ts";
import { type Envelope, parseEnvelope, topicOf } from "./envelope.ts";

export interface NewEvent {
  type: string;
  aggregateType: string;
  aggregateId: string;
  actorId?: string | null;
  schemaVersion?: number;
  payload: Record<string, unknown>;
}

/** An event made ready for this service's outbox: the checked envelope and the row's columns. */
export interface PreparedEvent {
  envelope: Envelope;
  id: string;
  topic: string;
  key: string;
}

export interface Outbox {
  /** Writes events into this service's outbox inside `trx`. */
  emit(trx: Transaction<unknown>, ...events: NewEvent[]): Promise<Envelope[]>;
  /**
   * For a write whose statement (a function of the service's schema) inserts the outbox row itself,
   * in the same transaction as its change: the envelope checked and the row's columns, and
   * `written()` to call once the statement ran.
   */
  prepare(event: NewEvent): PreparedEvent;
  written(): void;
}

/**
 * Listeners told that an outbox row was written in this process (before its commit: a listener
 * must not expect to see the row yet). A relay in the same process uses it to poll again soon
 * instead of after its idle back-off.
 */
const writeListeners = new Set<() => void>();
export function onOutboxWrite(listener: () => void): () => void {
  writeListeners.add(listener);
  return () => writeListeners.delete(listener);
}

export function createOutbox(opts: { service: string; schema: string }): Outbox {
  if (!/^[a-z_][a-z0-9_]*$/.test(opts.schema)) throw new Error(`bad schema ${opts.schema}`);
  const table = sql.table(`${opts.schema}.outbox`);
  const written = () => {
    for (const l of writeListeners) l();
  };
  // One trace context and one clock reading for the events of one write.
  const envelopeOf = (e: NewEvent, traceparent: string | null, now: string): Envelope =>
    parseEnvelope({
      id: uuidv7(),
      type: e.type,
      aggregate_type: e.aggregateType,
      aggregate_id: e.aggregateId,
      occurred_at: now,
      actor_id: e.actorId ?? null,
      schema_version: e.schemaVersion ?? 1,
      traceparent,
      payload: e.payload,
    });
  const prepared = (env: Envelope): PreparedEvent => ({
    envelope: env,
    id: env.id,
    topic: topicOf(opts.service, env.aggregate_type),
    key: env.aggregate_id,
  });
  return {
    async emit(trx, ...events) {
      if (!(trx as { isTransaction?: boolean }).isTransaction) {
        throw new Error("outbox.emit needs the caller's transaction");
      }
      const traceparent = injectTrace().traceparent ?? null;
      const now = new Date().toISOString();
      const envelopes = events.map((e) => envelopeOf(e, traceparent, now));
      if (envelopes.length === 0) return [];
      const rows = envelopes
        .map(prepared)
        .map((p) => sql`(${p.id}::uuid, ${p.topic}, ${p.key}, ${JSON.stringify(p.envelope)}::jsonb)`);
      await sql`INSERT INTO ${table} (id, topic, key, envelope) VALUES ${sql.join(rows)}`.execute(
        trx as Kysely<unknown>,
      );
      written();
      return envelopes;
    },
    prepare: (e) => prepared(envelopeOf(e, injectTrace().traceparent ?? null, new Date().toISOString())),
    written,
  };
}
