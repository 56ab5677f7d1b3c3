/**
 * The event backbone under failure, with the real processes: the relay as
 * `nova serve --target=relay` killed with SIGKILL in the middle of a burst
 * (Kafka and the embedded log), the Kafka broker restarted while events
 * flow, a consumer process killed after its effects and before its offset,
 * two consumer instances in one group, and a poison event replayed with
 * `nova dlq replay` once its cause is fixed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Consumer, stringDeserializers } from "@platformatic/kafka";
import { type Kysely, sql } from "kysely";
import { createDatabase, type Scratch } from "../scripts/lib/scratch.ts";
import { restartService } from "../scripts/services.ts";
import { migrate } from "../src/platform/db/migrator.ts";
import { Database } from "../src/platform/db/pool.ts";
import { type EventHandler, serveReplayRequests } from "../src/platform/events/consumer.ts";
import { DLQ_TOPIC } from "../src/platform/events/envelope.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { Relay } from "../src/platform/events/relay.ts";
import { eventTables } from "../src/platform/events/sets.ts";
import { type Running, startKafkaSource, startLogSource } from "../src/platform/events/sources.ts";
import { dlqPublisher, kafkaPublisher } from "../src/platform/events/transports.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { runMigrations } from "../src/runtime/app.ts";
import { resolveTargets } from "../src/runtime/modules.ts";
import { ROOT, services, spawnNova, spawnScript } from "./helpers.ts";

const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? "fatal" });
let dbUrl: string;
let scratch: Scratch;
let db: Database;
let k: Kysely<unknown>;
let brokers: string[];

/** The relay serves the outboxes of the module table; the tests write into identity's with their own topics. */
const OUTBOX_SCHEMA = "identity";

before(async () => {
  const s = await services();
  brokers = [s.kafka];
  // A database of its own: no other suite's outbox rows or consumers here.
  scratch = await createDatabase(s.postgres, "nova_evf");
  dbUrl = scratch.url(s.postgres);
  db = new Database({ writerUrl: dbUrl, poolMax: 10, applicationName: "test-events-failure" });
  k = db.kysely<unknown>().writer;
  await runMigrations(db, resolveTargets(["all"]), log);
});

after(async () => {
  await db.close();
  await scratch.drop();
});

/** A consumer schema with an effects table; the handler records (event, key, n, instance). */
async function consumerSchema(): Promise<string> {
  const schema = `c_${randomBytes(4).toString("hex")}`;
  await db.writerPool.query(`CREATE SCHEMA ${schema}`);
  await db.writerPool.query(
    `CREATE TABLE ${schema}.effects (event_id uuid, key text, n int, instance text, at timestamptz DEFAULT clock_timestamp())`,
  );
  await migrate(db.writerPool, [eventTables(schema)]);
  return schema;
}

function handler(schema: string, topic: string, instance = "a", opts: { broken?: () => boolean } = {}): EventHandler {
  return {
    name: `${schema}.effects`,
    schema,
    topics: [topic],
    maxAttempts: 3,
    async handle(event, trx) {
      if (opts.broken?.()) throw new Error("downstream is broken");
      await sql`INSERT INTO ${sql.table(`${schema}.effects`)} (event_id, key, n, instance)
        VALUES (${event.id}::uuid, ${event.aggregate_id}, ${event.payload.n as number}, ${instance})`.execute(trx);
    },
  };
}

/** Writes `n` events in transactions of 50 into identity's outbox, numbered per key (`keys` keys). */
async function produce(aggregate: string, n: number, keys: number, pauseMs = 0): Promise<void> {
  const outbox = createOutbox({ service: OUTBOX_SCHEMA, schema: OUTBOX_SCHEMA });
  const perKey = new Map<string, number>();
  for (let i = 0; i < n; i += 50) {
    await k.transaction().execute(async (trx) => {
      const events = [];
      for (let j = i; j < Math.min(n, i + 50); j++) {
        const key = `k${j % keys}`;
        const seq = (perKey.get(key) ?? 0) + 1;
        perKey.set(key, seq);
        events.push({ type: "ThingHappened", aggregateType: aggregate, aggregateId: key, payload: { n: seq } });
      }
      await outbox.emit(trx, ...events);
    });
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

async function count(q: string, params: unknown[] = []): Promise<number> {
  return Number((await db.writerPool.query(q, params)).rows[0]?.n ?? 0);
}

async function waitFor(
  what: string,
  cond: () => Promise<boolean>,
  ms = 90_000,
  state?: () => Promise<string>,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}${state ? ` (${await state()})` : ""}`);
}

interface Effect {
  event_id: string;
  key: string;
  n: number;
  instance: string;
}

async function effects(schema: string): Promise<Effect[]> {
  return (await db.writerPool.query(`SELECT event_id, key, n, instance FROM ${schema}.effects ORDER BY at, ctid`)).rows;
}

/** Every event applied exactly once, and per key in order 1, 2, 3, … */
function assertExactlyOnceInOrder(rows: Effect[], n: number, keys: number): void {
  assert.equal(new Set(rows.map((r) => r.event_id)).size, n, "every event applied");
  assert.equal(rows.length, n, "no event applied twice");
  const last = new Map<string, number>();
  for (const r of rows) {
    assert.equal(r.n, (last.get(r.key) ?? 0) + 1, `per-key order broken for ${r.key}`);
    last.set(r.key, r.n);
  }
  assert.equal(last.size, keys);
}

function relayProcess(transport: "kafka" | "log") {
  return spawnNova(["serve", "--target=relay"], {
    DATABASE_URL: dbUrl,
    ADMIN_PORT: "0",
    ...(transport === "kafka" ? { KAFKA_BROKERS: brokers.join(",") } : {}),
  });
}

function source(transport: "kafka" | "log", h: EventHandler, clientId = "t"): Promise<Running> {
  return transport === "kafka"
    ? startKafkaSource({ brokers, clientId, db: k, handler: h, deliver: { log } })
    : startLogSource({ pool: db.writerPool, db: k, handler: h, deliver: { log }, pollMs: 200 });
}

for (const transport of ["kafka", "log"] as const) {
  describe(`relay killed with SIGKILL in the middle of a 10,000-event burst (${transport})`, () => {
    test("after a restart every event is delivered and no effect is applied twice", async () => {
      const N = 10_000;
      const KEYS = 50;
      const aggregate = `burst_${randomBytes(3).toString("hex")}`;
      const topic = `nova.${OUTBOX_SCHEMA}.${aggregate}`;
      const schema = await consumerSchema();
      const consumer = await source(transport, handler(schema, topic));
      const published = () =>
        count(`SELECT count(*) AS n FROM ${OUTBOX_SCHEMA}.outbox WHERE topic = $1 AND published_at IS NOT NULL`, [
          topic,
        ]);
      let relay = relayProcess(transport);
      await relay.waitFor(/relay started/);
      const producing = produce(aggregate, N, KEYS, 10);
      await waitFor("a part of the burst to be published", async () => (await published()) >= 2_000);
      relay.kill("SIGKILL");
      const killed = await relay.exited;
      assert.equal(killed.signal, "SIGKILL");
      const atKill = await published();
      assert.ok(atKill < N, `the relay was killed mid-burst (${atKill} of ${N} published)`);
      relay = relayProcess(transport);
      await producing;
      await waitFor("every effect", async () => (await effects(schema)).length >= N);
      // Give a duplicate time to show up before asserting there is none.
      await new Promise((r) => setTimeout(r, 1_000));
      relay.kill("SIGTERM");
      assert.equal((await relay.exited).code, 0, relay.output().slice(-2000));
      await consumer.stop();
      assertExactlyOnceInOrder(await effects(schema), N, KEYS);
      assert.equal(
        await count(`SELECT count(*) AS n FROM ${OUTBOX_SCHEMA}.outbox WHERE topic = $1 AND published_at IS NULL`, [
          topic,
        ]),
        0,
      );
    });
  });
}

describe("Kafka broker restarted while events flow", () => {
  test("nothing is lost: the relay retries its batch, the consumer rejoins, every effect applied once", async () => {
    const N = 3_000;
    const KEYS = 20;
    const aggregate = `restart_${randomBytes(3).toString("hex")}`;
    const topic = `nova.${OUTBOX_SCHEMA}.${aggregate}`;
    const schema = await consumerSchema();
    const consumer = await source("kafka", handler(schema, topic));
    const relay = new Relay({
      pool: db.writerPool,
      schemas: [OUTBOX_SCHEMA],
      publisher: kafkaPublisher({ brokers, clientId: "restart-relay" }),
      log,
      batchSize: 100,
    });
    relay.start();
    try {
      const producing = produce(aggregate, N, KEYS, 40);
      await waitFor("some effects before the restart", async () => (await effects(schema)).length >= 300);
      await restartService("kafka");
      await producing;
      await waitFor(
        "every effect after the restart",
        async () => (await effects(schema)).length >= N,
        120_000,
        async () =>
          `${(await effects(schema)).length} of ${N} applied; unpublished outbox rows: ${await count(
            `SELECT count(*) AS n FROM ${OUTBOX_SCHEMA}.outbox WHERE topic = $1 AND published_at IS NULL`,
            [topic],
          )}`,
      );
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      // Stopped even when the test fails: a relay left running would publish the next tests' rows to Kafka.
      await relay.stop();
      await consumer.stop();
    }
    assertExactlyOnceInOrder(await effects(schema), N, KEYS);
  });
});

describe("two consumer instances in one group", () => {
  test("partitions are shared and per-aggregate order holds", async () => {
    const N = 4_000;
    const KEYS = 40;
    const aggregate = `group_${randomBytes(3).toString("hex")}`;
    const topic = `nova.${OUTBOX_SCHEMA}.${aggregate}`;
    const schema = await consumerSchema();
    // The topic exists (6 partitions, the broker default) before both instances join.
    await k.transaction().execute((trx) =>
      createOutbox({ service: OUTBOX_SCHEMA, schema: OUTBOX_SCHEMA }).emit(trx, {
        type: "ThingHappened",
        aggregateType: aggregate,
        aggregateId: "warmup",
        payload: { n: 1 },
      }),
    );
    const relay = new Relay({
      pool: db.writerPool,
      schemas: [OUTBOX_SCHEMA],
      publisher: kafkaPublisher({ brokers, clientId: "group-relay" }),
      log,
    });
    relay.start();
    const a = await source("kafka", handler(schema, topic, "a"), "a");
    const b = await source("kafka", handler(schema, topic, "b"), "b");
    await waitFor("the warm-up event", async () => (await effects(schema)).length >= 1);
    await produce(aggregate, N, KEYS, 5);
    await waitFor("every effect", async () => (await effects(schema)).length >= N + 1);
    await new Promise((r) => setTimeout(r, 1_000));
    await Promise.all([a.stop(), b.stop(), relay.stop()]);
    const rows = (await effects(schema)).filter((r) => r.key !== "warmup");
    assertExactlyOnceInOrder(rows, N, KEYS);
    const byInstance = new Map<string, number>();
    for (const r of rows) byInstance.set(r.instance, (byInstance.get(r.instance) ?? 0) + 1);
    assert.deepEqual([...byInstance.keys()].sort(), ["a", "b"], "both instances of the group consumed");
  });
});

describe("embedded log: a consumer process killed after its effects and before storing its offset", () => {
  test("the restarted process redelivers the batch and processed_events drops every duplicate", async () => {
    const N = 3_000;
    const KEYS = 30;
    const aggregate = `crash_${randomBytes(3).toString("hex")}`;
    const topic = `nova.${OUTBOX_SCHEMA}.${aggregate}`;
    const schema = await consumerSchema();
    await produce(aggregate, N, KEYS);
    const relay = relayProcess("log");
    try {
      await waitFor(
        "the burst in the log",
        async () =>
          (await count(
            `SELECT count(*) AS n FROM ${OUTBOX_SCHEMA}.outbox WHERE topic = $1 AND log_position IS NOT NULL`,
            [topic],
          )) >= N,
      );
    } finally {
      relay.kill("SIGTERM");
    }
    await relay.exited;
    const fixture = join(ROOT, "test/fixtures/log-consumer.ts");
    const run = (crashAfter: number) =>
      spawnScript(fixture, {
        DATABASE_URL: dbUrl,
        FIXTURE_SCHEMA: schema,
        FIXTURE_TOPIC: topic,
        FIXTURE_CRASH_AFTER: String(crashAfter),
      });
    const crashing = run(1_000);
    const crashed = await crashing.exited;
    assert.equal(crashed.signal, "SIGKILL", crashing.output().slice(-2000));
    const applied = (await effects(schema)).length;
    const offset = await count("SELECT position AS n FROM nova_events.offsets WHERE consumer = $1", [
      `${schema}.effects`,
    ]);
    const appliedUpTo = await count(
      `SELECT coalesce(max(o.log_position), 0) AS n FROM ${OUTBOX_SCHEMA}.outbox o JOIN ${schema}.effects e ON e.event_id = o.id`,
    );
    assert.ok(applied >= 1_000, `effects committed before the crash (${applied})`);
    assert.ok(offset < appliedUpTo, `the offset (${offset}) is behind the applied effects (${appliedUpTo})`);
    const finishing = run(0);
    await finishing.waitFor(/fixture done/, 60_000);
    finishing.kill("SIGTERM");
    await finishing.exited;
    assertExactlyOnceInOrder(await effects(schema), N, KEYS);
    const duplicates = await count(`SELECT count(*) AS n FROM ${schema}.processed_events`);
    assert.equal(duplicates, N);
  });
});

describe("a poison event", () => {
  test("goes to the DLQ table and topic after N attempts; `nova dlq replay` applies it once the cause is fixed", async () => {
    const aggregate = `poison_${randomBytes(3).toString("hex")}`;
    const topic = `nova.${OUTBOX_SCHEMA}.${aggregate}`;
    const schema = await consumerSchema();
    let broken = true;
    const h = { ...handler(schema, topic, "a", { broken: () => broken }), schema: OUTBOX_SCHEMA };
    // The handler keeps its processed_events and DLQ in identity's schema, so `nova dlq` (which
    // looks at every service schema) finds it; its effects go to its own table.
    const dlq = dlqPublisher({ brokers, clientId: "poison" });
    const consumer = await startKafkaSource({
      brokers,
      clientId: "poison",
      db: k,
      handler: h,
      deliver: { log, backoffMs: () => 10, onDead: dlq.publish },
    });
    const replays = serveReplayRequests(k, [h], log, 200);
    const relay = new Relay({
      pool: db.writerPool,
      schemas: [OUTBOX_SCHEMA],
      publisher: kafkaPublisher({ brokers, clientId: "poison-relay" }),
      log,
    });
    relay.start();
    const dlqTopic = new Consumer({
      clientId: "poison-dlq-reader",
      groupId: `dlq-reader-${randomBytes(3).toString("hex")}`,
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
      maxWaitTime: 100,
    });
    try {
      await produce(aggregate, 1, 1);
      const open = () =>
        count(`SELECT count(*) AS n FROM ${OUTBOX_SCHEMA}.dlq WHERE consumer = $1 AND replayed_at IS NULL`, [h.name]);
      await waitFor("the DLQ entry", async () => (await open()) === 1);
      const row = (
        await db.writerPool.query(`SELECT id, attempts, error, topic FROM ${OUTBOX_SCHEMA}.dlq WHERE consumer = $1`, [
          h.name,
        ])
      ).rows[0];
      assert.equal(row.attempts, 3);
      assert.match(row.error, /downstream is broken/);
      assert.equal(row.topic, topic);
      assert.equal((await effects(schema)).length, 0);

      // The copy on the DLQ topic names the consumer and carries the error.
      const stream = await dlqTopic.consume({ topics: [DLQ_TOPIC], mode: "earliest", autocommit: false });
      let seen: { consumer: string; error: string } | undefined;
      for await (const m of stream) {
        const v = JSON.parse(m.value as string);
        if (v.consumer === h.name) {
          seen = v;
          break;
        }
      }
      await stream.close();
      assert.equal(seen?.consumer, h.name);
      assert.match(seen?.error ?? "", /downstream is broken/);

      const env = { DATABASE_URL: dbUrl };
      const listed = spawnNova(["dlq", "list", "--consumer", h.name], env);
      assert.equal((await listed.exited).code, 0, listed.output());
      const entries = listed
        .output()
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        entries.map((e) => [e.id, e.consumer, e.type, e.attempts]),
        [[row.id, h.name, "ThingHappened", 3]],
      );

      // Still broken: the replay fails, the entry stays open with the new error; exit code 1.
      const failed = spawnNova(["dlq", "replay", row.id, "--wait-ms", "20000"], env);
      assert.equal((await failed.exited).code, 1, failed.output());
      assert.match(failed.output(), /"state":"failed"/);
      assert.equal(await open(), 1);

      broken = false;
      const replayed = spawnNova(["dlq", "replay", row.id, "--wait-ms", "20000"], env);
      assert.equal((await replayed.exited).code, 0, replayed.output());
      assert.match(replayed.output(), /"state":"replayed"/);
      assert.equal(await open(), 0);
      assert.equal((await effects(schema)).length, 1, "applied once");
      const again = spawnNova(["dlq", "replay", row.id], env);
      assert.equal((await again.exited).code, 2, "a closed entry cannot be replayed again");
      assert.match(again.output(), /no open DLQ entry/);
    } finally {
      await dlqTopic.close(true);
      await relay.stop();
      await replays.stop();
      await consumer.stop();
      await dlq.close();
    }
  });
});
