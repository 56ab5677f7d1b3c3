/**
 * The event backbone against real PostgreSQL and real Kafka: outbox -> relay
 * -> transport -> idempotent consumer, on both transports, with the DLQ.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Consumer, stringDeserializers } from "@platformatic/kafka";
import { type Kysely, sql } from "kysely";
import pg from "pg";
import { migrate } from "../src/platform/db/migrator.ts";
import { Database } from "../src/platform/db/pool.ts";
import { deliverBatch, type EventHandler, listDlq, replayDlq } from "../src/platform/events/consumer.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { Relay } from "../src/platform/events/relay.ts";
import { eventLog, eventTables } from "../src/platform/events/sets.ts";
import { LogListener, startKafkaSource, startLogSource } from "../src/platform/events/sources.ts";
import { kafkaPublisher, logPublisher } from "../src/platform/events/transports.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { registry } from "../src/platform/observability/metrics.ts";
import { services } from "./helpers.ts";

const log = createLogger({ level: "fatal" });
let db: Database;
let k: Kysely<unknown>;
let brokers: string[];

async function setupSchema(): Promise<string> {
  const schema = `evt_${randomBytes(4).toString("hex")}`;
  await db.writerPool.query(`CREATE SCHEMA ${schema}`);
  await db.writerPool.query(
    `CREATE TABLE ${schema}.effects (event_id uuid, key text, n int, at timestamptz DEFAULT now())`,
  );
  await migrate(db.writerPool, [eventTables(schema), eventLog]);
  return schema;
}

/** Writes `n` events over `keys` keys, each in a transaction with a business row, numbered per key. */
async function produce(schema: string, n: number, keys: number, service = schema, aggregateType = "thing") {
  const outbox = createOutbox({ service, schema });
  const perKey = new Map<string, number>();
  for (let i = 0; i < n; i += 50) {
    await k.transaction().execute(async (trx) => {
      const events = [];
      for (let j = i; j < Math.min(n, i + 50); j++) {
        const key = `k${j % keys}`;
        const seq = (perKey.get(key) ?? 0) + 1;
        perKey.set(key, seq);
        events.push({ type: "ThingHappened", aggregateType, aggregateId: key, payload: { n: seq } });
      }
      await outbox.emit(trx, ...events);
    });
  }
}

function effectHandler(
  schema: string,
  name: string,
  topics: string[],
  extra?: (e: { payload: Record<string, unknown> }) => void,
): EventHandler {
  return {
    name,
    schema,
    topics,
    maxAttempts: 3,
    async handle(event, trx) {
      extra?.(event);
      await sql`INSERT INTO ${sql.table(`${schema}.effects`)} (event_id, key, n) VALUES (${event.id}::uuid, ${event.aggregate_id}, ${event.payload.n as number})`.execute(
        trx,
      );
    },
  };
}

async function waitFor(cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail("timed out");
}

async function effects(schema: string): Promise<{ key: string; n: number; event_id: string }[]> {
  return (await db.writerPool.query(`SELECT event_id, key, n FROM ${schema}.effects ORDER BY at, ctid`)).rows;
}

function assertExactlyOnceInOrder(rows: { key: string; n: number; event_id: string }[], n: number, keys: number) {
  assert.equal(rows.length, n, "every event applied once");
  assert.equal(new Set(rows.map((r) => r.event_id)).size, n, "no event applied twice");
  const last = new Map<string, number>();
  for (const r of rows) {
    assert.equal(
      r.n,
      (last.get(r.key) ?? 0) + 1,
      `order of key ${r.key}: ${JSON.stringify(
        rows
          .filter((x) => x.key === r.key)
          .map((x) => x.n)
          .slice(0, 40),
      )}`,
    );
    last.set(r.key, r.n);
  }
  assert.equal(last.size, keys);
}

/** nova_consumer_log_lag_events of one consumer (undefined before its source first counted). */
async function logLag(consumer: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric("nova_consumer_log_lag_events");
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.consumer === consumer)?.value;
}

/** Waits until every row of the outbox has its log position (the relay appended them all). */
async function allAppended(schema: string): Promise<void> {
  await waitFor(
    async () =>
      (await db.writerPool.query(`SELECT count(*)::int AS n FROM ${schema}.outbox WHERE log_position IS NULL`)).rows[0]
        .n === 0,
  );
}

let pgUrl = "";
/** A pool of its own on the harness database that shows `seen` the text of every statement it sends. */
function watchedPool(seen: (text: string) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString: pgUrl, max: 4 });
  pool.on("connect", (c) => {
    const q = c.query.bind(c) as (...a: unknown[]) => unknown;
    (c as unknown as { query: unknown }).query = (...a: unknown[]) => {
      seen(typeof a[0] === "string" ? a[0] : String((a[0] as { text?: string })?.text));
      return q(...a);
    };
  });
  return pool;
}
before(async () => {
  const s = await services();
  pgUrl = s.postgres;
  db = new Database({ writerUrl: s.postgres, poolMax: 10, applicationName: "test-events" });
  k = db.kysely<unknown>().writer;
  brokers = [s.kafka];
});
after(() => db.close());

describe("outbox", () => {
  test("emits only inside a transaction and checks the envelope", async () => {
    const schema = await setupSchema();
    const outbox = createOutbox({ service: "svc", schema });
    await assert.rejects(
      outbox.emit(k as never, { type: "ThingHappened", aggregateType: "thing", aggregateId: "a", payload: {} }),
      /transaction/,
    );
    await assert.rejects(
      k
        .transaction()
        .execute((trx) =>
          outbox.emit(trx, { type: "bad type", aggregateType: "thing", aggregateId: "a", payload: {} }),
        ),
      /invalid event envelope: type/,
    );
    // A rolled-back write leaves no event.
    await k
      .transaction()
      .execute(async (trx) => {
        await outbox.emit(trx, { type: "ThingHappened", aggregateType: "thing", aggregateId: "a", payload: {} });
        throw new Error("abort");
      })
      .catch(() => {});
    assert.equal((await db.writerPool.query(`SELECT count(*)::int AS n FROM ${schema}.outbox`)).rows[0].n, 0);
  });
});

describe("embedded transport (Postgres log)", () => {
  test("every event reaches the consumer once, in per-key order; redelivery after a lost offset applies nothing twice", async () => {
    const schema = await setupSchema();
    const N = 2_000;
    const KEYS = 20;
    await produce(schema, N, KEYS);
    const relay = new Relay({ pool: db.writerPool, schemas: [schema], publisher: logPublisher(), log });
    const topics = [`nova.${schema}.thing`];
    const handler = effectHandler(schema, `${schema}-c1`, topics);
    let source = await startLogSource({ pool: db.writerPool, db: k, handler, deliver: { log } });
    relay.start();
    await waitFor(async () => (await effects(schema)).length >= N).catch(async (e) => {
      const c = await db.writerPool.query(
        `SELECT (SELECT count(*) FROM ${schema}.outbox WHERE published_at IS NULL) AS unpub, (SELECT count(*) FROM ${schema}.outbox WHERE topic = $1 AND log_position IS NOT NULL) AS logged, (SELECT position FROM nova_events.offsets WHERE consumer = $2) AS pos, (SELECT count(*) FROM ${schema}.effects) AS eff, (SELECT count(*) FROM ${schema}.dlq) AS dlq`,
        [topics[0], handler.name],
      );
      throw new Error(`${e.message}: ${JSON.stringify(c.rows[0])}`);
    });
    assertExactlyOnceInOrder(await effects(schema), N, KEYS);
    // A crash after the effects and before the offset was stored: the dispatcher starts from 0 again.
    await source.stop();
    await db.writerPool.query("UPDATE nova_events.offsets SET position = 0 WHERE consumer = $1", [handler.name]);
    source = await startLogSource({ pool: db.writerPool, db: k, handler, deliver: { log } });
    await waitFor(async () => {
      const { rows } = await db.writerPool.query(
        `SELECT o.position >= (SELECT max(log_position) FROM ${schema}.outbox WHERE topic = $2) AS done FROM nova_events.offsets o WHERE consumer = $1`,
        [handler.name, topics[0]],
      );
      return rows[0]?.done === true;
    });
    assertExactlyOnceInOrder(await effects(schema), N, KEYS);
    await source.stop();
    await relay.stop();
    const unpublished = await db.writerPool.query(
      `SELECT count(*)::int AS n FROM ${schema}.outbox WHERE published_at IS NULL`,
    );
    assert.equal(unpublished.rows[0].n, 0);
  });
});

describe("embedded consumer lag", () => {
  test("a consumer of one topic is at lag 0 at rest though another topic of its outbox has thousands of events after its offset", async () => {
    const schema = await setupSchema();
    const mine = `nova.${schema}.thing`;
    // A few events on its topic, then many on another topic of the same outbox, which never move its offset.
    await produce(schema, 5, 5);
    await produce(schema, 2_000, 20, schema, "other");
    const relay = new Relay({ pool: db.writerPool, schemas: [schema], publisher: logPublisher(), log });
    relay.start();
    await allAppended(schema);
    const handler = effectHandler(schema, `${schema}-lag-a`, [mine]);
    const source = await startLogSource({ pool: db.writerPool, db: k, handler, deliver: { log }, lagMs: 100 });
    try {
      await waitFor(async () => (await effects(schema)).length === 5);
      const { rows } = await db.writerPool.query<{ behind: string }>(
        "SELECT ((SELECT position FROM nova_events.head) - position)::text AS behind FROM nova_events.offsets WHERE consumer = $1",
        [handler.name],
      );
      assert.ok(
        Number(rows[0]?.behind) >= 2_000,
        `head minus offset is ${rows[0]?.behind} (what the gauge used to be)`,
      );
      await waitFor(async () => (await logLag(handler.name)) === 0).catch(async (e) => {
        throw new Error(`${e.message}: lag ${await logLag(handler.name)}`);
      });
    } finally {
      await source.stop();
      await relay.stop();
    }
  });

  test("unconsumed events of its topic show as lag while its handler is blocked, and 0 once they are consumed", async () => {
    const schema = await setupSchema();
    const mine = `nova.${schema}.thing`;
    const N = 300;
    await produce(schema, N, 10);
    await produce(schema, 1_000, 10, schema, "other");
    const relay = new Relay({ pool: db.writerPool, schemas: [schema], publisher: logPublisher(), log });
    relay.start();
    await allAppended(schema);
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const handler = effectHandler(schema, `${schema}-lag-b`, [mine]);
    const handle = handler.handle.bind(handler);
    handler.handle = async (event, trx) => {
      await gate;
      await handle(event, trx);
    };
    const source = await startLogSource({ pool: db.writerPool, db: k, handler, deliver: { log }, lagMs: 100 });
    try {
      // The first batch is stuck in the handler: none of the N is consumed, and the other topic's 1,000 do not count.
      await waitFor(async () => (await logLag(handler.name)) === N).catch(async (e) => {
        throw new Error(`${e.message}: lag ${await logLag(handler.name)}`);
      });
      assert.equal((await effects(schema)).length, 0);
      open();
      await waitFor(async () => (await effects(schema)).length === N);
      await waitFor(async () => (await logLag(handler.name)) === 0).catch(async (e) => {
        throw new Error(`${e.message}: lag ${await logLag(handler.name)}`);
      });
    } finally {
      open();
      await source.stop();
      await relay.stop();
    }
  });
});

describe("Kafka transport", () => {
  test("two relays at once publish every row exactly once, and the consumer applies each once in per-key order", async () => {
    const schema = await setupSchema();
    const N = 2_000;
    const KEYS = 20;
    await produce(schema, N, KEYS);
    const topic = `nova.${schema}.thing`;
    const relays = [1, 2].map(
      (i) =>
        new Relay({
          pool: db.writerPool,
          schemas: [schema],
          publisher: kafkaPublisher({ brokers, clientId: `relay-${i}` }),
          log,
          batchSize: 100,
        }),
    );
    for (const r of relays) r.start();
    await waitFor(
      async () =>
        (await db.writerPool.query(`SELECT count(*)::int AS n FROM ${schema}.outbox WHERE published_at IS NULL`))
          .rows[0].n === 0,
    );
    await Promise.all(relays.map((r) => r.stop()));

    // Count what is on the topic with a fresh group from the beginning.
    const counter = new Consumer({
      clientId: "count",
      groupId: `${schema}-count`,
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
      maxWaitTime: 200,
    });
    const stream = await counter.consume({ topics: [topic], mode: "earliest", autocommit: false });
    const ids: string[] = [];
    const deadline = setTimeout(() => void stream.close(), 15_000);
    for await (const m of stream) {
      ids.push(JSON.parse(m.value).id);
      if (ids.length >= N) break;
    }
    clearTimeout(deadline);
    await new Promise((r) => setTimeout(r, 500));
    await stream.close();
    await counter.close();
    assert.equal(ids.length, N);
    assert.equal(new Set(ids).size, N, "no row published twice");

    const handler = effectHandler(schema, `${schema}-c1`, [topic]);
    const source = await startKafkaSource({ brokers, clientId: "c1", db: k, handler, deliver: { log } });
    await waitFor(async () => (await effects(schema)).length >= N, 60_000);
    await source.stop();
    assertExactlyOnceInOrder(await effects(schema), N, KEYS);
  });

  test("an idle relay probes its outboxes with one query a poll and still publishes what arrives", async () => {
    const schemas = [await setupSchema(), await setupSchema(), await setupSchema()];
    let statements = 0;
    let transactions = 0;
    const pool = watchedPool((text) => {
      statements++;
      if (text === "BEGIN") transactions++;
    });
    const relay = new Relay({ pool, schemas, publisher: logPublisher(), log, maxPollMs: 100 });
    relay.start();
    await new Promise((r) => setTimeout(r, 600)); // first round and the back-off to 100 ms
    statements = 0;
    transactions = 0;
    await new Promise((r) => setTimeout(r, 1_000));
    const idle = { statements, transactions };
    assert.equal(idle.transactions, 0, `no outbox transaction while idle (${JSON.stringify(idle)})`);
    assert.ok(idle.statements <= 15, `about one probe per 100 ms, saw ${idle.statements} statements`);
    await produce(schemas[1] as string, 5, 1);
    await waitFor(
      async () =>
        (await db.writerPool.query(`SELECT count(*)::int AS n FROM ${schemas[1]}.outbox WHERE published_at IS NULL`))
          .rows[0].n === 0,
      5_000,
    );
    await relay.stop();
    await pool.end();
  });

  test("a relay backed off to a long idle poll publishes a write made in its process at once", async () => {
    const schema = await setupSchema();
    const relay = new Relay({
      pool: db.writerPool,
      schemas: [schema],
      publisher: logPublisher(),
      log,
      minPollMs: 50,
      maxPollMs: 60_000,
    });
    relay.start();
    // Idle rounds sleep 50, 100, 200, 400, 800 ms, then 1.6 s: write during that sleep.
    await new Promise((r) => setTimeout(r, 1_700));
    const t0 = Date.now();
    await produce(schema, 1, 1);
    await waitFor(
      async () =>
        (await db.writerPool.query(`SELECT count(*)::int AS n FROM ${schema}.outbox WHERE published_at IS NULL`))
          .rows[0].n === 0,
      5_000,
    );
    const ms = Date.now() - t0;
    await relay.stop();
    assert.ok(ms < 800, `published ${ms} ms after the commit`);
  });

  test("a log consumer is woken only by its own outboxes' publications", async () => {
    const [mine, other] = [await setupSchema(), await setupSchema()];
    let reads = 0;
    const pool = watchedPool((text) => {
      // The log read (ORDER BY ... LIMIT), not the lag count, which runs on a timer of its own.
      if (text.includes("ORDER BY log_position LIMIT")) reads++;
    });
    const handler = effectHandler(mine, `${mine}-c1`, [`nova.${mine}.thing`]);
    const source = await startLogSource({ pool, db: k, handler, deliver: { log }, pollMs: 60_000 });
    const relay = new Relay({ pool: db.writerPool, schemas: [mine, other], publisher: logPublisher(), log });
    relay.start();
    await new Promise((r) => setTimeout(r, 300));
    reads = 0;
    for (let i = 0; i < 10; i++) {
      await produce(other, 1, 1);
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor(
      async () =>
        (await db.writerPool.query(`SELECT count(*)::int AS n FROM ${other}.outbox WHERE published_at IS NULL`)).rows[0]
          .n === 0,
      5_000,
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(reads, 0, "ten publications elsewhere did not wake it");
    await produce(mine, 3, 1);
    await waitFor(async () => (await effects(mine)).length >= 3, 5_000);
    await relay.stop();
    await source.stop();
    await pool.end();
  });

  test("log sources share one LISTEN connection outside their pool; a lost one is reopened and wakes them", async () => {
    const schema = await setupSchema();
    const app = `test-listen-${schema}`;
    // Four sources on a pool of two: each used to hold a pool client for its LISTEN, so the third never started.
    const pool = new pg.Pool({ connectionString: pgUrl, max: 2, application_name: app });
    const topic = `nova.${schema}.thing`;
    const sources = [];
    for (let i = 0; i < 4; i++) {
      const handler = effectHandler(schema, `${schema}-c${i}`, [topic]);
      sources.push(await startLogSource({ pool, db: k, handler, deliver: { log }, pollMs: 60_000 }));
    }
    assert.equal(LogListener.of(pool).connections, 1);
    const listening = async () =>
      (
        await db.writerPool.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
          [app],
        )
      ).rows;
    assert.equal((await listening()).length, 1, "one LISTEN connection for four sources");
    const relay = new Relay({ pool: db.writerPool, schemas: [schema], publisher: logPublisher(), log });
    relay.start();
    const applied = async (n: number) =>
      (await db.writerPool.query(`SELECT count(*)::int AS n FROM ${schema}.effects`)).rows[0].n === n;
    await produce(schema, 2, 1);
    await waitFor(() => applied(8), 10_000);
    // The listening connection dies; notifications sent meanwhile are lost, so the reopened one wakes every source.
    const [victim] = await listening();
    await db.writerPool.query("SELECT pg_terminate_backend($1)", [victim?.pid]);
    await produce(schema, 2, 1);
    const t0 = Date.now();
    await waitFor(() => applied(16), 10_000);
    assert.ok(Date.now() - t0 < 5_000, "delivered long before the 60 s poll");
    await waitFor(async () => (await listening()).length === 1, 5_000);
    await relay.stop();
    for (const src of sources) await src.stop();
    assert.equal(LogListener.of(pool).connections, 0);
    await pool.end();
  });

  test("a poison event goes to the DLQ after its attempts; replay after the fix applies it and closes the row", async () => {
    const schema = await setupSchema();
    await produce(schema, 5, 5);
    const topic = `nova.${schema}.thing`;
    let broken = true;
    const handler = effectHandler(schema, `${schema}-c1`, [topic], (e) => {
      if (broken && e.payload.n === 1 && (e as unknown as { aggregate_id: string }).aggregate_id === "k2") {
        throw new Error("cannot handle k2 yet");
      }
    });
    const relay = new Relay({
      pool: db.writerPool,
      schemas: [schema],
      publisher: kafkaPublisher({ brokers, clientId: "r" }),
      log,
    });
    relay.start();
    const source = await startKafkaSource({
      brokers,
      clientId: "c",
      db: k,
      handler,
      deliver: { log, backoffMs: () => 5 },
    });
    await waitFor(async () => (await effects(schema)).length >= 4 && (await listDlq(k, schema)).length === 1, 60_000);
    await source.stop();
    await relay.stop();
    const [parked] = await listDlq(k, schema);
    assert.ok(parked);
    assert.equal(parked.consumer, handler.name);
    assert.equal(parked.attempts, 3);
    assert.match(parked.error, /cannot handle k2 yet/);
    assert.equal((await effects(schema)).length, 4, "the others went on");

    assert.equal(await replayDlq(k, [handler], schema, parked.id, log), "failed", "still broken");
    broken = false;
    assert.equal(await replayDlq(k, [handler], schema, parked.id, log), "applied");
    assert.equal((await listDlq(k, schema)).length, 0, "closed");
    assert.equal((await effects(schema)).length, 5);
    await assert.rejects(replayDlq(k, [handler], schema, parked.id, log), /no open DLQ entry/);
  });
});

describe("batched delivery", () => {
  test("a failing event splits the batch without reordering; an in-batch copy and a bad envelope are handled", async () => {
    const schema = await setupSchema();
    const outbox = createOutbox({ service: schema, schema });
    const envs = await k.transaction().execute((trx) =>
      outbox.emit(
        trx,
        ...[1, 2, 3, 4].map((n) => ({
          type: "ThingHappened",
          aggregateType: "thing",
          aggregateId: "k",
          payload: { n },
        })),
      ),
    );
    let failuresLeft = 1;
    const handler = effectHandler(schema, `${schema}-batch`, [`nova.${schema}.thing`], (e) => {
      if (e.payload.n === 3 && failuresLeft-- > 0) throw new Error("transient");
    });
    const topic = `nova.${schema}.thing`;
    const [e1, e2, e3, e4] = envs;
    const outcomes = await deliverBatch(
      k,
      handler,
      [e1, e2, e3, e1, "{not json", e4].map((raw) => ({ topic, raw })),
      { log, backoffMs: () => 1 },
    );
    assert.deepEqual(outcomes, ["applied", "applied", "applied", "duplicate", "dead", "applied"]);
    assert.deepEqual(
      (await effects(schema)).map((r) => r.n),
      [1, 2, 3, 4],
    );
    assert.equal((await listDlq(k, schema)).length, 1, "the bad envelope is parked");
  });

  test("handleBatch takes the fresh events at once; when it fails they go through handle one by one", async () => {
    const schema = await setupSchema();
    const outbox = createOutbox({ service: schema, schema });
    const topic = `nova.${schema}.thing`;
    const emit = (ns: number[]) =>
      k
        .transaction()
        .execute((trx) =>
          outbox.emit(
            trx,
            ...ns.map((n) => ({ type: "ThingHappened", aggregateType: "thing", aggregateId: "k", payload: { n } })),
          ),
        );
    const single = effectHandler(schema, `${schema}-whole`, [topic], (e) => {
      if (e.payload.n === 13) throw new Error("13 is never accepted");
    });
    const calls: number[][] = [];
    const handler: EventHandler = {
      ...single,
      async handleBatch(events, trx) {
        calls.push(events.map((e) => e.payload.n as number));
        if (events.some((e) => e.payload.n === 13)) throw new Error("a bad one in the batch");
        // One statement for the whole batch.
        await sql`INSERT INTO ${sql.table(`${schema}.effects`)} (event_id, key, n)
          SELECT id, 'k', n FROM unnest(${events.map((e) => e.id)}::uuid[], ${events.map((e) => e.payload.n as number)}::int[]) AS x(id, n)`.execute(
          trx,
        );
      },
    };
    const [a1, a2, a3] = await emit([1, 2, 3]);
    let outcomes = await deliverBatch(
      k,
      handler,
      [a1, a2, a1, a3].map((raw) => ({ topic, raw })),
      { log, backoffMs: () => 1 },
    );
    assert.deepEqual(outcomes, ["applied", "applied", "duplicate", "applied"]);
    assert.deepEqual(calls, [[1, 2, 3]], "one call with the fresh events in order, the copy left out");

    calls.length = 0;
    const [b1, b2, b3] = await emit([4, 13, 5]);
    outcomes = await deliverBatch(
      k,
      handler,
      [b1, b2, b3].map((raw) => ({ topic, raw })),
      { log, backoffMs: () => 1 },
    );
    assert.deepEqual(outcomes, ["applied", "dead", "applied"]);
    assert.deepEqual(calls[0], [4, 13, 5], "the whole batch was tried first");
    assert.deepEqual(
      (await effects(schema)).map((r) => r.n),
      [1, 2, 3, 4, 5],
      "nothing of the failed call stayed; the good events applied once, in order",
    );
    const [parked] = await listDlq(k, schema);
    assert.match(parked?.error ?? "", /13 is never accepted/, "handle found the event at fault");
  });
});
