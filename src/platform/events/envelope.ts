/**
 * The event envelope (ARCHITECTURE §4), checked at run time on both ends:
 * when an event is written and when a consumer receives it.
 */
import { z } from "zod";

export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().regex(/^[A-Z][A-Za-z0-9]{1,63}$/, "PascalCase event type"),
  aggregate_type: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  aggregate_id: z.string().min(1).max(200),
  occurred_at: z.iso.datetime({ offset: true }),
  actor_id: z.string().max(200).nullable(),
  schema_version: z.number().int().positive(),
  traceparent: z.string().max(200).nullable(),
  payload: z.record(z.string(), z.unknown()),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** Topic of an aggregate: `nova.<service>.<aggregate>`, keyed by aggregate id. */
export function topicOf(service: string, aggregateType: string): string {
  return `nova.${service}.${aggregateType}`;
}

/** The schema whose outbox holds a topic's events (a service owns the schema named after it). */
export function schemaOfTopic(topic: string): string {
  const m = /^nova\.([a-z_][a-z0-9_]*)\.[a-z][a-z0-9_]*$/.exec(topic);
  if (!m?.[1]) throw new Error(`not a nova event topic: ${topic}`);
  return m[1];
}

export const DLQ_TOPIC = "nova.dlq";

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvelopeError";
  }
}

export function parseEnvelope(value: unknown): Envelope {
  const r = envelopeSchema.safeParse(value);
  if (!r.success) {
    throw new EnvelopeError(
      `invalid event envelope: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return r.data;
}
