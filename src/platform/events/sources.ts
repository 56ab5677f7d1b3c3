/** Feeding handlers: a Kafka consumer group per handler, or the embedded Postgres log dispatcher. */
import { Consumer, stringDeserializers } from "@platformatic/kafka";
import type { Kysely } from "kysely";
import type pg from "pg";
import { type DeliverOptions, deliver, type EventHandler } from "./consumer.ts";
import { LOG_CHANNEL } from "./transports.ts";

export interface Running {
  stop(): Promise<void>;
}

/**
 * A Kafka consumer group (classic protocol) named after the handler. Offsets
 * are committed only after the effect (or the DLQ row) is committed.
 */
export async function startKafkaSource(opts: {
  brokers: string[];
  clientId: string;
  db: Kysely<unknown>;
  handler: EventHandler;
  deliver: DeliverOptions;
}): Promise<Running> {
  const consumer = new Consumer({
    clientId: opts.clientId,
    groupId: opts.handler.name,
    bootstrapBrokers: opts.brokers,
    deserializers: stringDeserializers,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 10_000,
    maxWaitTime: 200,
  });
  const stream = await consumer.consume({
    topics: opts.handler.topics,
    mode: "committed",
    fallbackMode: "earliest",
    autocommit: false,
  });
  const loop = (async () => {
    for await (const m of stream) {
      await deliver(opts.db, opts.handler, m.topic, m.value, opts.deliver);
      await m.commit();
    }
  })().catch((err) => opts.deliver.log.error({ err, consumer: opts.handler.name }, "kafka source stopped"));
  return {
    async stop() {
      await stream.close();
      await loop;
      await consumer.close();
    },
  };
}

/**
 * The embedded transport's consumer side: reads nova_events.log in position
 * order from the handler's stored offset, wakes on NOTIFY with a slow poll as
 * the fallback. The offset is stored after the effect; a crash in between
 * redelivers, and processed_events drops the duplicate.
 */
export async function startLogSource(opts: {
  pool: pg.Pool;
  db: Kysely<unknown>;
  handler: EventHandler;
  deliver: DeliverOptions;
  batchSize?: number;
  pollMs?: number;
}): Promise<Running> {
  const { pool, handler } = opts;
  await pool.query("INSERT INTO nova_events.offsets (consumer) VALUES ($1) ON CONFLICT DO NOTHING", [handler.name]);
  const listener = await pool.connect();
  let wake: (() => void) | undefined;
  const onNotify = () => wake?.();
  listener.on("notification", onNotify);
  await listener.query(`LISTEN ${LOG_CHANNEL}`);
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await pool.query<{ position: string; topic: string; envelope: unknown }>(
        `SELECT l.position::text AS position, l.topic, l.envelope FROM nova_events.log l
          WHERE l.position > (SELECT o.position FROM nova_events.offsets o WHERE o.consumer = $1)
            AND l.topic = ANY($2::text[])
          ORDER BY l.position LIMIT $3`,
        [handler.name, handler.topics, opts.batchSize ?? 200],
      );
      for (const r of rows) {
        await deliver(opts.db, handler, r.topic, r.envelope, opts.deliver);
        await pool.query("UPDATE nova_events.offsets SET position = $2, updated_at = now() WHERE consumer = $1", [
          handler.name,
          r.position,
        ]);
        if (!running) return;
      }
      if (rows.length > 0) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.pollMs ?? 1_000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  })().catch((err) => opts.deliver.log.error({ err, consumer: handler.name }, "log source stopped"));
  return {
    async stop() {
      running = false;
      wake?.();
      await loop;
      listener.off("notification", onNotify);
      await listener.query(`UNLISTEN ${LOG_CHANNEL}`).catch(() => {});
      listener.release();
    },
  };
}
