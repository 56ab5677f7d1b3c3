/** Feeding handlers: a Kafka consumer group per handler, or the embedded Postgres log dispatcher. */
import type { Consumer, Message } from "@platformatic/kafka";
import type { Kysely } from "kysely";
import type pg from "pg";
import { gauge } from "../observability/metrics.ts";
import { type DeliverOptions, deliverBatch, type EventHandler } from "./consumer.ts";
import { schemaOfTopic } from "./envelope.ts";
import { kafka, LOG_CHANNEL } from "./transports.ts";

export interface Running {
  stop(): Promise<void>;
}

async function closeQuietly(c: { close(force?: boolean): unknown }): Promise<void> {
  try {
    await c.close(true);
  } catch {
    // already closed or the broker is gone
  }
}

/** The lag count stops here: past it the gauge reads LAG_CAP ("at least"), so a huge backlog costs a bounded count. */
const LAG_CAP = 100_000;
const logLag = gauge(
  "nova_consumer_log_lag_events",
  `Events of the consumer's topics in the embedded log after its offset (capped at ${LAG_CAP}), by consumer`,
  ["consumer"],
);

/**
 * A Kafka consumer group (classic protocol) named after the handler. Messages
 * are taken in micro-batches (whatever has arrived, up to `batchSize`); a
 * batch's offsets are committed only after its effects (or DLQ rows) are.
 */
export async function startKafkaSource(opts: {
  brokers: string[];
  clientId: string;
  db: Kysely<unknown>;
  handler: EventHandler;
  deliver: DeliverOptions;
  batchSize?: number;
}): Promise<Running> {
  type M = Message<string, string, string, string>;
  const { Consumer: KafkaConsumer, stringDeserializers } = await kafka();
  const max = opts.batchSize ?? 500;
  const log = opts.deliver.log;
  let running = true;
  let current: { consumer: Consumer<string, string, string, string>; close(): Promise<void> } | undefined;
  let wakeSleep: (() => void) | undefined;

  /** One consumer session: joins the group and processes until the stream ends or fails. */
  const session = async (first: boolean): Promise<void> => {
    const consumer = new KafkaConsumer({
      clientId: opts.clientId,
      groupId: opts.handler.name,
      bootstrapBrokers: opts.brokers,
      // A consumer may start before the first event of its topic exists.
      autocreateTopics: true,
      deserializers: stringDeserializers,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 10_000,
      // A fetch returns as soon as one record is there (minBytes 1): this only bounds how often an idle
      // consumer asks again (at 100 ms, eleven idle processes and the broker spent a sixth of a core on it).
      maxWaitTime: 1_000,
    });
    let stream: Awaited<ReturnType<typeof consumer.consume>>;
    try {
      stream = await consumer.consume({
        topics: opts.handler.topics,
        mode: "committed",
        fallbackMode: "earliest",
        autocommit: false,
      });
    } catch (err) {
      await closeQuietly(consumer);
      throw err;
    }
    let buffer: M[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    let failure: unknown;
    const end = (err?: unknown) => {
      failure ??= err;
      ended = true;
      wake?.();
    };
    stream.on("data", (m: M) => {
      buffer.push(m);
      if (buffer.length >= max * 2) stream.pause();
      wake?.();
    });
    stream.on("close", () => end());
    stream.on("end", () => end());
    stream.on("error", (err) => end(err));
    current = {
      consumer,
      async close() {
        end();
        await stream.close().catch(() => {});
      },
    };
    if (!first) log.info({ consumer: opts.handler.name }, "kafka source resumed");
    try {
      while (!ended) {
        if (buffer.length === 0) {
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = undefined;
          continue;
        }
        const batch = buffer.slice(0, max);
        buffer = buffer.slice(batch.length);
        if (stream.isPaused() && buffer.length < max) stream.resume();
        await deliverBatch(
          opts.db,
          opts.handler,
          batch.map((m) => ({ topic: m.topic, raw: m.value })),
          opts.deliver,
        );
        if (ended) break;
        // One commit per partition: its last message in the batch.
        const last = new Map<string, M>();
        for (const m of batch) last.set(`${m.topic}:${m.partition}`, m);
        for (const m of last.values()) await m.commit();
      }
    } finally {
      await stream.close().catch(() => {});
      await closeQuietly(consumer);
      current = undefined;
    }
    if (failure) throw failure;
  };

  // The first join is awaited, so a bad configuration fails the start; later failures reconnect.
  let firstSession: Promise<void> | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    firstSession = session(true);
    firstSession.then(resolve, reject);
    // Resolve as soon as the consumer has joined: poll `current`.
    const t = setInterval(() => {
      if (current) {
        clearInterval(t);
        resolve();
      }
    }, 20);
    firstSession.finally(() => clearInterval(t)).catch(() => {});
  });
  await ready;
  const loop = (async () => {
    let delay = 500;
    let next = firstSession as Promise<void>;
    while (running) {
      try {
        await next;
        delay = 500;
      } catch (err) {
        if (!running) break;
        log.warn({ err, consumer: opts.handler.name, retryInMs: delay }, "kafka source failed; reconnecting");
      }
      if (!running) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        wakeSleep = () => {
          clearTimeout(t);
          r();
        };
      });
      wakeSleep = undefined;
      delay = Math.min(10_000, delay * 2);
      if (!running) break;
      next = session(false);
    }
  })();
  return {
    async stop() {
      running = false;
      wakeSleep?.();
      await current?.close();
      await loop;
    },
  };
}

/**
 * The process's one LISTEN connection on the log channel, shared by every log
 * source on a pool. It is a client of its own, outside the pool: a LISTEN
 * holds its connection for good, and one per source used to take most of a
 * small pool (six consumers of ten connections in `nova start`). A lost
 * connection is reopened after a second; every source is woken then, since
 * notifications sent meanwhile are gone (each source also polls slowly).
 */
export class LogListener {
  private static readonly byPool = new WeakMap<pg.Pool, LogListener>();
  private readonly subscribers = new Set<(schema: string | undefined) => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;

  private constructor(private readonly pool: pg.Pool) {}

  static of(pool: pg.Pool): LogListener {
    let l = LogListener.byPool.get(pool);
    if (!l) {
      l = new LogListener(pool);
      LogListener.byPool.set(pool, l);
    }
    return l;
  }

  /** Calls `fn` with the notifying outbox's schema (undefined: wake up, something may have been missed). */
  async add(fn: (schema: string | undefined) => void): Promise<() => Promise<void>> {
    this.subscribers.add(fn);
    try {
      await this.connect();
    } catch (err) {
      this.subscribers.delete(fn);
      throw err;
    }
    return async () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) await this.close();
    };
  }

  /** Connected clients (0 or 1), for tests. */
  get connections(): number {
    return this.client ? 1 : 0;
  }

  private connect(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= (async () => {
      const P = this.pool as unknown as { Client: typeof pg.Client; options: pg.ClientConfig };
      const client = new P.Client(P.options);
      const lost = () => {
        if (this.client !== client) return;
        this.client = undefined;
        client.end().catch(() => {});
        this.broadcast(undefined);
        this.reconnectLater();
      };
      client.on("error", lost);
      client.on("end", lost);
      client.on("notification", (n) => this.broadcast(n.payload || undefined));
      await client.connect();
      await client.query(`LISTEN ${LOG_CHANNEL}`);
      this.client = client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Tries again a second later (and then every second) while anyone listens. */
  private reconnectLater(): void {
    if (this.subscribers.size === 0 || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.subscribers.size === 0) return;
      this.connect().then(
        () => this.broadcast(undefined),
        () => this.reconnectLater(),
      );
    }, 1_000);
    this.retry.unref();
  }

  private broadcast(schema: string | undefined): void {
    for (const fn of this.subscribers) fn(schema);
  }

  private async close(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    await this.connecting?.catch(() => {});
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}

/**
 * The embedded transport's consumer side: reads the outbox tables behind the
 * handler's topics in log-position order from the handler's stored offset,
 * wakes on NOTIFY with a slow poll as the fallback. The offset is stored after
 * a batch's effects; a crash in between redelivers, and processed_events drops
 * the duplicates.
 */
export async function startLogSource(opts: {
  pool: pg.Pool;
  db: Kysely<unknown>;
  handler: EventHandler;
  deliver: DeliverOptions;
  batchSize?: number;
  pollMs?: number;
  /** How often nova_consumer_log_lag_events is recounted (default 5 s). */
  lagMs?: number;
}): Promise<Running> {
  const { pool, handler } = opts;
  const batchSize = opts.batchSize ?? 500;
  const reads = logReads(pool, handler.topics);
  let offset = await storedOffset(pool, handler.name);
  const waker = await LogWaker.start(pool, reads.schemas);
  let running = true;
  let lastError = 0;
  const loop = (async () => {
    while (running) {
      try {
        waker.notified = false;
        const rows = await reads.batch(offset, batchSize);
        if (rows.length > 0) {
          await deliverBatch(
            opts.db,
            handler,
            rows.map((r) => ({ topic: r.topic, raw: r.envelope })),
            opts.deliver,
          );
          const next = (rows[rows.length - 1] as { position: string }).position;
          await pool.query("UPDATE nova_events.offsets SET position = $2, updated_at = now() WHERE consumer = $1", [
            handler.name,
            next,
          ]);
          offset = next;
          // A full batch may have more behind it; otherwise read again only if a publication came meanwhile.
          if (rows.length >= batchSize || waker.notified) continue;
        }
      } catch (err) {
        // e.g. a producer's schema not migrated yet, or the database restarting: retry, log now and then.
        if (Date.now() - lastError > 30_000) {
          lastError = Date.now();
          opts.deliver.log.error({ err, consumer: handler.name }, "log source failed; retrying");
        }
      }
      if (!running) break;
      await waker.sleep(opts.pollMs ?? 1_000);
    }
  })();
  const lag = startLagCounter({ pool, handler, reads, offset: () => offset, everyMs: opts.lagMs ?? 5_000 });
  return {
    async stop() {
      running = false;
      waker.wake();
      await lag.stop();
      await loop;
      await waker.close();
    },
  };
}

/** The consumer's stored offset (a new consumer starts at 0). */
async function storedOffset(pool: pg.Pool, consumer: string): Promise<string> {
  await pool.query("INSERT INTO nova_events.offsets (consumer) VALUES ($1) ON CONFLICT DO NOTHING", [consumer]);
  const r = await pool.query<{ position: string }>(
    "SELECT position::text AS position FROM nova_events.offsets WHERE consumer = $1",
    [consumer],
  );
  return r.rows[0]?.position as string;
}

type LogRow = { position: string; topic: string; envelope: unknown };

/** Which outboxes a log consumer of `topics` reads, and the read of one batch after an offset. */
function logReads(pool: pg.Pool, topics: string[]) {
  const schemas = [...new Set(topics.map(schemaOfTopic))];
  /** The read over the outboxes that exist; `capped` also stops at the position given as $4. */
  const queryFor = (present: string[], capped: boolean) => {
    const read = present
      .map(
        (s) => `(SELECT log_position, topic, envelope FROM ${s}.outbox
         WHERE log_position > $1 AND topic = ANY($2::text[])${capped ? " AND log_position <= $4" : ""}
         ORDER BY log_position LIMIT $3)`,
      )
      .join(" UNION ALL ");
    return `SELECT log_position::text AS position, topic, envelope FROM (${read}) x ORDER BY log_position LIMIT $3`;
  };
  /**
   * A topic whose producer is not deployed yet has no outbox to read (e.g. a
   * consumer shipped before its producer). Such a handler reads the outboxes
   * that exist, only up to the log head seen BEFORE it looked for the missing
   * ones: rows of an outbox created after that look get later positions, so
   * the offset never passes them, and the next round reads them too.
   */
  let allPresent = false;
  /** The handler's schemas whose outbox exists (all of them, without a query, once they all did). */
  const presentSchemas = async (): Promise<string[]> => {
    if (allPresent) return schemas;
    const found = await pool.query<{ s: string }>(
      "SELECT s FROM unnest($1::text[]) AS x(s) WHERE to_regclass(s || '.outbox') IS NOT NULL",
      [schemas],
    );
    const present = schemas.filter((s) => found.rows.some((r) => r.s === s));
    if (present.length === schemas.length) allPresent = true;
    return present;
  };
  const plan = async (): Promise<{ query: string; params: unknown[] } | undefined> => {
    if (allPresent) return { query: queryFor(schemas, false), params: [] };
    const head = await pool.query<{ position: string }>("SELECT position::text AS position FROM nova_events.head");
    const present = await presentSchemas();
    if (allPresent) return { query: queryFor(schemas, false), params: [] };
    if (present.length === 0) return undefined;
    return { query: queryFor(present, true), params: [head.rows[0]?.position ?? "0"] };
  };
  return {
    schemas,
    topics,
    presentSchemas,
    async batch(offset: string, size: number): Promise<LogRow[]> {
      const p = await plan();
      if (!p) return [];
      return (await pool.query<LogRow>(p.query, [offset, topics, size, ...p.params])).rows;
    },
  };
}

/** Sleeps between reads until a publication for one of `schemas` arrives or the poll interval passes. */
class LogWaker {
  /** A publication for this source arrived since its last read began: read again before sleeping. */
  notified = false;
  private wakeUp: (() => void) | undefined;
  private unlisten: () => Promise<void> = async () => {};

  static async start(pool: pg.Pool, schemas: string[]): Promise<LogWaker> {
    const w = new LogWaker();
    w.unlisten = await LogListener.of(pool).add((schema) => {
      if (schema !== undefined && !schemas.includes(schema)) return;
      w.notified = true;
      w.wake();
    });
    return w;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.notified) return resolve();
      const t = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }

  wake(): void {
    this.wakeUp?.();
  }

  close(): Promise<void> {
    return this.unlisten();
  }
}

/**
 * The lag is the count of the handler's own topics' events after its offset: the log's head
 * minus the offset also counted every other topic's events, which never move this offset (a
 * consumer of one topic read thousands at rest). It is counted on a timer of its own, not after
 * each batch, so it stays current while a batch is stuck in the handler and costs nothing per
 * batch; the (topic, log_position) index makes it a probe per topic, capped at LAG_CAP.
 */
function startLagCounter(opts: {
  pool: pg.Pool;
  handler: EventHandler;
  reads: ReturnType<typeof logReads>;
  offset: () => string;
  everyMs: number;
}): { stop(): Promise<void> } {
  const { pool, handler, reads } = opts;
  const countLag = async (): Promise<void> => {
    const present = await reads.presentSchemas();
    if (present.length === 0) return logLag.set({ consumer: handler.name }, 0);
    const read = present
      .map((s) => `(SELECT 1 FROM ${s}.outbox WHERE topic = ANY($2::text[]) AND log_position > $1)`)
      .join(" UNION ALL ");
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM (${read}) u LIMIT $3) x`,
      [opts.offset(), handler.topics, LAG_CAP],
    );
    logLag.set({ consumer: handler.name }, rows[0]?.n ?? 0);
  };
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let run: Promise<void> | undefined;
  const tick = () => {
    run = countLag()
      .catch(() => {
        // The database is restarting or an outbox is not migrated yet: the read loop logs those; count next time.
      })
      .finally(() => {
        run = undefined;
        if (!running) return;
        timer = setTimeout(tick, opts.everyMs);
        timer.unref();
      });
  };
  tick();
  return {
    async stop() {
      running = false;
      clearTimeout(timer);
      await run;
    },
  };
}
