/** The two event transports behind one interface: Kafka (distributed) and the Postgres log (embedded). */
import { Producer as KafkaProducer, type Producer, stringSerializers } from "@platformatic/kafka";
import { DLQ_TOPIC } from "./envelope.ts";
import type { OutboxRow, Publisher } from "./relay.ts";

export function kafkaHeaders(row: OutboxRow): Map<string, string> {
  const h = new Map<string, string>([
    ["event-id", row.id],
    ["event-type", row.type],
  ]);
  if (row.traceparent) h.set("traceparent", row.traceparent);
  return h;
}

/** An idempotent producer with acks=all (every Nova producer is one). */
function idempotentProducer(brokers: string[], clientId: string): Producer<string, string, string, string> {
  return new KafkaProducer({
    clientId,
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
    autocreateTopics: true,
    timeout: 10_000,
    retries: 3,
  });
}

/** Idempotent producer, acks=all; one send per batch keeps per-partition (per-key) order. */
export function kafkaPublisher(opts: { brokers: string[]; clientId: string }): Publisher {
  const producer = idempotentProducer(opts.brokers, opts.clientId);
  return {
    async publish(rows) {
      await producer.send({
        messages: rows.map((r) => ({
          topic: r.topic,
          key: r.key,
          value: r.json,
          headers: kafkaHeaders(r),
        })),
      });
    },
    close: () => producer.close(),
  };
}

/** Publishes parked events to the `nova.dlq` topic (the DLQ table stays the source of truth for replay). */
export function dlqPublisher(opts: { brokers: string[]; clientId: string }): {
  publish(row: { consumer: string; topic: string; envelope: unknown; error: string; attempts: number }): Promise<void>;
  close(): Promise<void>;
} {
  const producer = idempotentProducer(opts.brokers, `${opts.clientId}-dlq`);
  return {
    async publish(row) {
      await producer.send({
        messages: [
          {
            topic: DLQ_TOPIC,
            key: row.consumer,
            value: JSON.stringify(row),
            headers: new Map([
              ["consumer", row.consumer],
              ["source-topic", row.topic],
            ]),
          },
        ],
      });
    },
    close: () => producer.close(),
  };
}

export const LOG_CHANNEL = "nova_events";

/**
 * The embedded transport: the outbox rows themselves are the log. Inside the
 * relay's transaction each row gets the next global log position; one
 * appender at a time (the lock is held to commit), so positions become visible
 * in order and a dispatcher that has read position N never later finds a row
 * below N.
 */
export function logPublisher(): Publisher {
  return {
    marksPublished: true,
    async publish(rows, { client, schema }) {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('nova.events.log'))");
      const head = await client.query<{ position: string }>(
        "UPDATE nova_events.head SET position = position + $1 RETURNING position::text AS position",
        [rows.length],
      );
      const last = BigInt(head.rows[0]?.position ?? "0");
      const first = last - BigInt(rows.length) + 1n;
      await client.query(
        `UPDATE ${schema}.outbox o SET log_position = x.pos, published_at = now()
           FROM unnest($1::bigint[], $2::bigint[]) AS x(seq, pos) WHERE o.seq = x.seq`,
        [rows.map((r) => r.seq), rows.map((_, i) => (first + BigInt(i)).toString())],
      );
      // The payload names the outbox, so a consumer that reads none of its topics stays asleep.
      await client.query("SELECT pg_notify($1, $2)", [LOG_CHANNEL, schema]);
    },
    close: async () => {},
  };
}
