/**
 * The relay: moves committed outbox rows to the event transport (Kafka, or the
 * Postgres log in embedded mode). Rows are claimed with FOR UPDATE SKIP LOCKED
 * under a per-outbox transaction lock, so relays running side by side never
 * publish a row twice and rows of one key keep their order; a batch is marked
 * published only after the transport acknowledged it. Delivery is
 * at-least-once: a relay killed between the ack and the commit publishes the
 * batch again, and consumers drop the duplicates.
 */
import { ExponentialBackoff, handleAll, retry } from "cockatiel";
import type pg from "pg";
import type { Logger } from "pino";
import { counter, gauge } from "../observability/metrics.ts";
import { onOutboxWrite } from "./outbox.ts";

export interface OutboxRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  type: string;
  traceparent: string | null;
  /** The envelope as JSON text, published as it was written. */
  json: string;
}

/** A transport outside the database (Kafka): the relay claims the rows and marks them published. */
export interface RowPublisher {
  /** Publishes a batch of one outbox in order; `client` is the relay's open transaction. */
  publish(rows: OutboxRow[], at: { client: pg.PoolClient; schema: string }): Promise<void>;
  close(): Promise<void>;
}

/**
 * A transport inside the database (the embedded log) does the relay's whole step itself in one
 * statement: the outbox's lock, its next `limit` rows, published. Returns how many rows it moved.
 */
export interface StepPublisher {
  publishNext(pool: pg.Pool, schema: string, limit: number): Promise<number>;
  close(): Promise<void>;
}

export type Publisher = RowPublisher | StepPublisher;

const published = counter("nova_relay_published_total", "Outbox rows published", ["schema"]);
const publishErrors = counter("nova_relay_publish_errors_total", "Failed publish attempts", ["schema"]);
// `service` is the outbox's schema (a service owns the schema named after it).
const lagRows = gauge("nova_outbox_lag_rows", "Unpublished outbox rows", ["service"]);
const lagSeconds = gauge("nova_outbox_lag_seconds", "Age of the oldest unpublished outbox row", ["service"]);

export interface RelayOptions {
  pool: pg.Pool;
  schemas: string[];
  publisher: Publisher;
  log: Logger;
  batchSize?: number;
  /** Idle poll interval bounds. */
  minPollMs?: number;
  maxPollMs?: number;
  /** Published rows older than this are deleted. */
  retentionMs?: number;
  publishAttempts?: number;
}

export class Relay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;
  private unlisten: (() => void) | undefined;
  private readonly retryPublish;
  /** Outboxes whose last batch failed, with when it was last logged. */
  private readonly failing = new Map<string, number>();

  constructor(private readonly opts: RelayOptions) {
    for (const s of opts.schemas) if (!/^[a-z_][a-z0-9_]*$/.test(s)) throw new Error(`bad schema ${s}`);
    this.retryPublish = retry(handleAll, {
      maxAttempts: (opts.publishAttempts ?? 5) - 1,
      backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 5_000 }),
    });
  }

  /** Publishes at most one batch of one outbox; returns how many rows it published. */
  async runOnce(schema: string): Promise<number> {
    const publisher = this.opts.publisher;
    if ("publishNext" in publisher) {
      const n = await publisher.publishNext(this.opts.pool, schema, this.opts.batchSize ?? 500);
      if (n > 0) published.inc({ schema }, n);
      return n;
    }
    const client = await this.opts.pool.connect();
    try {
      await client.query("BEGIN");
      const lock = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [
        `nova.relay.${schema}`,
      ]);
      if (!lock.rows[0]?.ok) {
        await client.query("ROLLBACK");
        return 0;
      }
      const { rows } = await client.query<OutboxRow>(
        `SELECT o.seq::text AS seq, o.id::text AS id, o.topic, o.key, o.envelope->>'type' AS type,
                o.envelope->>'traceparent' AS traceparent, o.envelope::text AS json FROM ${schema}.outbox o
          WHERE o.published_at IS NULL ORDER BY o.seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.opts.batchSize ?? 500],
      );
      if (rows.length === 0) {
        await client.query("COMMIT");
        return 0;
      }
      await this.retryPublish.execute(async ({ attempt }) => {
        try {
          await publisher.publish(rows, { client, schema });
        } catch (err) {
          publishErrors.inc({ schema });
          this.opts.log.warn({ err, schema, attempt, rows: rows.length }, "publish failed");
          throw err;
        }
      });
      await client.query(`UPDATE ${schema}.outbox SET published_at = now() WHERE seq = ANY($1::bigint[])`, [
        rows.map((r) => r.seq),
      ]);
      await client.query("COMMIT");
      published.inc({ schema }, rows.length);
      return rows.length;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** Updates the lag gauges and prunes old published rows. */
  async housekeeping(): Promise<void> {
    for (const schema of this.opts.schemas) {
      if (this.failing.has(schema)) continue;
      const { rows } = await this.opts.pool.query<{ n: string; age: number | null }>(
        `SELECT count(*)::text AS n, extract(epoch FROM now() - min(created_at))::float8 AS age
           FROM ${schema}.outbox WHERE published_at IS NULL`,
      );
      lagRows.set({ service: schema }, Number(rows[0]?.n ?? 0));
      lagSeconds.set({ service: schema }, rows[0]?.age ?? 0);
      await this.opts.pool.query(
        `DELETE FROM ${schema}.outbox WHERE seq IN (
           SELECT seq FROM ${schema}.outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 10000)`,
        [(this.opts.retentionMs ?? 7 * 24 * 3_600_000) / 1000],
      );
    }
  }

  /**
   * The outboxes to visit next: those with unpublished rows, found in one statement (an index-only
   * probe of each outbox's partial index), so an idle relay costs one query a poll instead of a
   * transaction per outbox, plus those whose last batch failed (retried every round). Any error
   * (e.g. an outbox not migrated yet) answers "all of them": runOnce then sorts them out.
   */
  async pending(): Promise<string[]> {
    const probe = this.opts.schemas
      .map((s) => `SELECT '${s}' AS s WHERE EXISTS (SELECT 1 FROM ${s}.outbox WHERE published_at IS NULL)`)
      .join(" UNION ALL ");
    try {
      const { rows } = await this.opts.pool.query<{ s: string }>(probe);
      return [...new Set([...rows.map((r) => r.s), ...this.failing.keys()])];
    } catch {
      return this.opts.schemas;
    }
  }

  /**
   * Nudges an idle relay (an outbox write in this process: onOutboxWrite). The write may not have
   * committed yet, so the relay also drops its back-off and looks again after `minPollMs`.
   */
  notify(): void {
    this.nudged = true;
    this.wake?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unlisten = onOutboxWrite(() => this.notify());
    const minPoll = this.opts.minPollMs ?? 10;
    const maxPoll = this.opts.maxPollMs ?? 100;
    this.loop = (async () => {
      let idle = minPoll;
      let lastHousekeeping = 0;
      let due = this.opts.schemas;
      while (this.running) {
        let moved = 0;
        let full = false;
        for (const schema of due) {
          try {
            const n = await this.runOnce(schema);
            moved += n;
            if (n >= (this.opts.batchSize ?? 500)) full = true;
            this.failing.delete(schema);
          } catch (err) {
            // One broken outbox (e.g. not migrated yet, or the broker down) does not stop the others.
            const since = this.failing.get(schema);
            if (since === undefined || Date.now() - since > 30_000) {
              this.opts.log.error({ err, schema }, "relay batch failed; will retry");
              this.failing.set(schema, Date.now());
            }
          }
        }
        if (Date.now() - lastHousekeeping > 5_000) {
          lastHousekeeping = Date.now();
          await this.housekeeping().catch((err) => this.opts.log.warn({ err }, "relay housekeeping failed"));
        }
        if (moved > 0) {
          idle = minPoll;
          // Whatever has rows now (the probe), and every outbox at once while batches come back full.
          due = full ? this.opts.schemas : await this.pending();
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.failing.size ? maxPoll : idle);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
        idle = this.nudged ? minPoll : Math.min(maxPoll, idle * 2);
        this.nudged = false;
        // Failing outboxes are retried every round; the others only when they have rows.
        due = this.running ? await this.pending() : [];
      }
    })();
  }

  /** False while some outbox cannot be published. */
  healthy(): boolean {
    return this.failing.size === 0;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unlisten?.();
    this.wake?.();
    await this.loop;
    await this.opts.publisher.close();
  }
}
