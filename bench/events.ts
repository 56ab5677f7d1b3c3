/**
 * The event backbone, on the harness's real PostgreSQL and Kafka, in a fresh
 * database:
 * - relay throughput: a pre-filled outbox drained into Kafka (and into the
 *   embedded log), for several batch sizes side by side;
 * - commit-to-effect latency at a steady 1,000 events/s, Kafka and the
 *   embedded log side by side: from the producer's commit returning to the
 *   consumer's handler applying the effect (inside its transaction).
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { ensureServices } from "../scripts/services.ts";
import { migrate } from "../src/platform/db/migrator.ts";
import type { Database } from "../src/platform/db/pool.ts";
import type { EventHandler } from "../src/platform/events/consumer.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { type Publisher, Relay } from "../src/platform/events/relay.ts";
import { eventLog, eventTables } from "../src/platform/events/sets.ts";
import { startKafkaSource, startLogSource } from "../src/platform/events/sources.ts";
import { kafkaPublisher, logPublisher } from "../src/platform/events/transports.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { scratchDatabase } from "./lib.ts";

const log = createLogger({ level: "error" });
const say = (m: string) => process.stderr.write(`events: ${m}\n`);

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number);
}

async function fill(k: Kysely<unknown>, schema: string, aggregate: string, n: number): Promise<void> {
  const outbox = createOutbox({ service: schema, schema });
  for (let i = 0; i < n; i += 500) {
    await k.transaction().execute((trx) =>
      outbox.emit(
        trx,
        ...Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
          type: "ThingHappened",
          aggregateType: aggregate,
          aggregateId: `k${(i + j) % 1000}`,
          payload: { n: i + j, text: "x".repeat(200) },
        })),
      ),
    );
  }
}

/** Drains `n` pre-filled rows; returns events/s. */
async function relayThroughput(
  db: Database,
  schema: string,
  publisher: Publisher,
  n: number,
  batchSize: number,
): Promise<number> {
  const k = db.kysely<unknown>().writer;
  const aggregate = `r${randomBytes(3).toString("hex")}`;
  const relay = new Relay({ pool: db.writerPool, schemas: [schema], publisher, log, batchSize });
  // The topic is created (and the producer connected) before the clock starts.
  await fill(k, schema, aggregate, 1);
  await relay.runOnce(schema);
  await fill(k, schema, aggregate, n);
  const t0 = performance.now();
  let moved = 0;
  while (moved < n) moved += await relay.runOnce(schema);
  const s = (performance.now() - t0) / 1000;
  await publisher.close();
  return Math.round(n / s);
}

/** Produces at `rate` events/s for `seconds`; returns commit-to-effect latencies (ms). */
async function latency(
  db: Database,
  schema: string,
  transport: "kafka" | "log",
  brokers: string[],
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; max: number; events: number }> {
  const k = db.kysely<unknown>().writer;
  const aggregate = `l${randomBytes(3).toString("hex")}`;
  const topic = `nova.${schema}.${aggregate}`;
  const committedAt = new Map<string, number>();
  const lat: number[] = [];
  const early = new Map<string, number>();
  const handler: EventHandler = {
    name: `bench.${aggregate}`,
    schema,
    topics: [topic],
    async handle(event) {
      const now = performance.now();
      const c = committedAt.get(event.id);
      if (c === undefined) early.set(event.id, now);
      else {
        lat.push(now - c);
        committedAt.delete(event.id);
      }
    },
  };
  const relay = new Relay({
    pool: db.writerPool,
    schemas: [schema],
    publisher: transport === "kafka" ? kafkaPublisher({ brokers, clientId: "bench-relay" }) : logPublisher(),
    log,
  });
  const source =
    transport === "kafka"
      ? await startKafkaSource({ brokers, clientId: "bench", db: k, handler, deliver: { log } })
      : await startLogSource({ pool: db.writerPool, db: k, handler, deliver: { log } });
  relay.start();
  const outbox = createOutbox({ service: schema, schema });
  const perTx = 10;
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    if (sent >= due) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    const envs = await k.transaction().execute((trx) =>
      outbox.emit(
        trx,
        ...Array.from({ length: perTx }, (_, j) => ({
          type: "ThingHappened",
          aggregateType: aggregate,
          aggregateId: `k${(sent + j) % 100}`,
          payload: { n: sent + j },
        })),
      ),
    );
    const at = performance.now();
    for (const e of envs) {
      const seen = early.get(e.id);
      if (seen !== undefined) lat.push(seen - at);
      else committedAt.set(e.id, at);
    }
    sent += perTx;
  }
  const end = Date.now() + 30_000;
  while (committedAt.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await relay.stop();
  await source.stop();
  if (committedAt.size > 0) throw new Error(`${committedAt.size} events never reached the consumer`);
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: Math.round(Math.max(...lat)), events: sent };
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const s = await ensureServices();
  const brokers = [s.kafka];
  const scratch = await scratchDatabase(s.postgres, { poolMax: 10, applicationName: "bench-events" });
  const db = scratch.db;
  const schema = "bench";
  try {
    await migrate(db.writerPool, [eventTables(schema), eventLog]);
    const n = quick ? 20_000 : 100_000;
    const batches = [100, 500, 2000];
    const kafkaByBatch: Record<string, number> = {};
    const logByBatch: Record<string, number> = {};
    for (const b of batches) {
      kafkaByBatch[b] = await relayThroughput(db, schema, kafkaPublisher({ brokers, clientId: `bench-${b}` }), n, b);
      say(`relay -> kafka, batch ${b}: ${kafkaByBatch[b]} events/s`);
      logByBatch[b] = await relayThroughput(db, schema, logPublisher(), n, b);
      say(`relay -> log, batch ${b}: ${logByBatch[b]} events/s`);
    }
    const rate = 1_000;
    const seconds = quick ? 8 : 30;
    const kafka = await latency(db, schema, "kafka", brokers, rate, seconds);
    say(`kafka commit-to-effect: ${JSON.stringify(kafka)}`);
    const embedded = await latency(db, schema, "log", brokers, rate, seconds);
    say(`embedded commit-to-effect: ${JSON.stringify(embedded)}`);
    return {
      quick,
      relay_events: n,
      relay_batch_size: 500,
      relay_events_per_s: kafkaByBatch[500],
      relay_log_events_per_s: logByBatch[500],
      relay_kafka_events_per_s_by_batch: kafkaByBatch,
      relay_log_events_per_s_by_batch: logByBatch,
      steady_rate_events_per_s: rate,
      steady_seconds: seconds,
      kafka_commit_to_effect_p50_ms: kafka.p50,
      kafka_commit_to_effect_p99_ms: kafka.p99,
      kafka_commit_to_effect_max_ms: kafka.max,
      embedded_commit_to_effect_p50_ms: embedded.p50,
      embedded_commit_to_effect_p99_ms: embedded.p99,
      embedded_commit_to_effect_max_ms: embedded.max,
    };
  } finally {
    await scratch.drop();
  }
}
