/** The two event transports behind one interface: Kafka (distributed) and the Postgres log (embedded). */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { Producer } from "@platformatic/kafka";
import { DLQ_TOPIC } from "./envelope.ts";
import type { OutboxRow, RowPublisher, StepPublisher } from "./relay.ts";

export function kafkaHeaders(row: OutboxRow): Map<string, string> {
  const h = new Map<string, string>([
    ["event-id", row.id],
    ["event-type", row.type],
  ]);
  if (row.traceparent) h.set("traceparent", row.traceparent);
  return h;
}

let kafkaModule: Promise<typeof import("@platformatic/kafka")> | undefined;

/** The Kafka client, loaded on first use: loading it was most of a process's start-up, and embedded mode never needs it. */
export function kafka(): Promise<typeof import("@platformatic/kafka")> {
  kafkaModule ??= lazyOptionValidators().then(() => import("@platformatic/kafka"));
  return kafkaModule;
}

/**
 * The Kafka client compiles some forty JSON-schema validators of its options (ajv) when it is
 * imported, most for clients a process never makes (admin, the schema registry): half of its
 * import, the largest part of a service's start (bench startup). Its Ajv2020 compiles each one
 * on first use instead; it only calls a validator and reads its `errors`, which the stand-in
 * keeps. Only the Ajv2020 class that this Kafka client resolves is changed.
 */
async function lazyOptionValidators(): Promise<void> {
  const fromKafka = createRequire(createRequire(import.meta.url).resolve("@platformatic/kafka"));
  const { Ajv2020 } = await import(pathToFileURL(fromKafka.resolve("ajv/dist/2020.js")).href);
  const proto = Ajv2020.prototype as { compile: LazyCompile; lazyCompile?: true };
  if (proto.lazyCompile) return;
  const compile = proto.compile;
  proto.lazyCompile = true;
  proto.compile = function (this: unknown, ...args: unknown[]) {
    let real: Validator | undefined;
    const stand = ((data: unknown) => {
      real ??= compile.apply(this, args);
      const ok = real(data);
      stand.errors = real.errors;
      return ok;
    }) as Validator;
    stand.errors = null;
    return stand;
  };
}

type Validator = ((data: unknown) => boolean) & { errors?: unknown };
type LazyCompile = (this: unknown, ...args: unknown[]) => Validator;

/** An idempotent producer with acks=all (every Nova producer is one). */
async function idempotentProducer(
  brokers: string[],
  clientId: string,
): Promise<Producer<string, string, string, string>> {
  const { Producer: KafkaProducer, stringSerializers } = await kafka();
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

/**
 * Idempotent producer, acks=all; one send per batch keeps per-partition (per-key) order. A producer
 * whose send failed is replaced before the next attempt: after a broker restart one was seen to fail
 * every later send (OUT_OF_BOUNDS while reading a produce response) and the relay never recovered.
 * A batch sent twice across producers is deduplicated by the consumers (processed_events).
 */
export function kafkaPublisher(opts: { brokers: string[]; clientId: string }): RowPublisher {
  let producer = idempotentProducer(opts.brokers, opts.clientId);
  return {
    async publish(rows) {
      const used = producer;
      try {
        await (await used).send({
          messages: rows.map((r) => ({
            topic: r.topic,
            key: r.key,
            value: r.json,
            headers: kafkaHeaders(r),
          })),
        });
      } catch (err) {
        if (producer === used) {
          producer = idempotentProducer(opts.brokers, opts.clientId);
          used.then((p) => p.close(true) as unknown).catch(() => {});
        }
        throw err;
      }
    },
    close: async () => (await producer).close(),
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
      await (await producer).send({
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
    close: async () => (await producer).close(),
  };
}

export const LOG_CHANNEL = "nova_events";

/**
 * The embedded transport: the outbox rows themselves are the log. The relay's
 * step is one statement, `nova_events.append_outbox` (log migration 0003):
 * under the outbox's lock each row gets the next global log position; taking
 * the positions updates the single head row, whose lock is held to commit, so
 * appenders go one at a time, positions become visible in order, and a
 * dispatcher that has read position N never later finds a row below N. The
 * NOTIFY (sent at commit) names the outbox, so a consumer that reads none of
 * its topics stays asleep.
 */
export function logPublisher(): StepPublisher {
  return {
    async publishNext(pool, schema, limit) {
      const r = await pool.query<{ n: number }>("SELECT nova_events.append_outbox($1, $2, $3) AS n", [
        schema,
        limit,
        LOG_CHANNEL,
      ]);
      return r.rows[0]?.n ?? 0;
    },
    close: async () => {},
  };
}
