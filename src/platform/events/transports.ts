/** The two event transports behind one interface: Kafka (distributed) and the Postgres log (embedded). */
import { Producer as KafkaProducer, type Producer, stringSerializers } from "@platformatic/kafka";
import type pg from "pg";
import type { OutboxRow, Publisher } from "./relay.ts";

export function kafkaHeaders(row: OutboxRow): Map<string, string> {
  const h = new Map<string, string>([
    ["event-id", row.envelope.id],
    ["event-type", row.envelope.type],
  ]);
  if (row.envelope.traceparent) h.set("traceparent", row.envelope.traceparent);
  return h;
}

/** Idempotent producer, acks=all; one send per batch keeps per-partition (per-key) order. */
export function kafkaPublisher(opts: { brokers: string[]; clientId: string }): Publisher {
  const producer: Producer<string, string, string, string> = new KafkaProducer({
    clientId: opts.clientId,
    bootstrapBrokers: opts.brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
    autocreateTopics: true,
    timeout: 10_000,
    retries: 3,
  });
  return {
    async publish(rows) {
      await producer.send({
        messages: rows.map((r) => ({
          topic: r.topic,
          key: r.key,
          value: JSON.stringify(r.envelope),
          headers: kafkaHeaders(r),
        })),
      });
    },
    close: () => producer.close(),
  };
}

export const LOG_CHANNEL = "nova_events";

/** Appends to nova_events.log inside the relay's own transaction: moved and marked atomically. */
export function logPublisher(): Publisher {
  return {
    async publish(rows, client: pg.PoolClient) {
      // One appender at a time (held to commit), so log positions become visible in order
      // and a dispatcher that has read position N never later finds a row below N.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('nova.events.log'))");
      await client.query(
        `INSERT INTO nova_events.log (topic, key, envelope)
         SELECT t, k, e FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS x(t, k, e, o) ORDER BY o`,
        [rows.map((r) => r.topic), rows.map((r) => r.key), rows.map((r) => JSON.stringify(r.envelope))],
      );
      await client.query(`NOTIFY ${LOG_CHANNEL}`);
    },
    close: async () => {},
  };
}
