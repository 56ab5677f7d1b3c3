/**
 * The process's publish/subscribe bus for ephemeral fan-out (no domain words
 * here): a message published on a channel reaches every live subscriber of
 * that channel in every process. With Redis it is Redis pub/sub: each process
 * holds one subscriber connection and subscribes to a channel only while a
 * local listener wants it (reference-counted), so Redis routes a message only
 * to the replicas that have a subscriber for it. Without Redis (embedded mode)
 * it is an in-process emitter. Delivery is at most once per live subscription:
 * a process that is away misses what was published meanwhile (durable history
 * lives in the services; the bus only carries "something happened, now").
 */
import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { counter, gauge } from "../observability/metrics.ts";

export type Listener = (message: string) => void;

export interface Bus {
  /** Whether messages cross process boundaries (Redis) or stay in this process. */
  readonly shared: boolean;
  publish(channel: string, message: string): Promise<void>;
  /** Starts delivering `channel` to `listener`; resolves once the subscription is live. Returns the unsubscribe. */
  subscribe(channel: string, listener: Listener): Promise<() => void>;
  close(): Promise<void>;
}

const published = counter("nova_bus_published_total", "Messages published on the pub/sub bus", ["result"]);
const delivered = counter("nova_bus_delivered_total", "Messages handed to local bus listeners");
const channelsGauge = gauge("nova_bus_channels", "Channels this process is subscribed to on the bus");

export interface BusOptions {
  redisUrl?: string | undefined;
  log: Logger;
  name?: string;
}

export function createBus(opts: BusOptions): Bus {
  return opts.redisUrl ? new RedisBus(opts.redisUrl, opts.log, opts.name ?? "nova") : new MemoryBus();
}

class MemoryBus implements Bus {
  readonly shared = false;
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: string): Promise<void> {
    published.inc({ result: "ok" });
    // Listeners run after the publisher's turn, as they would with a network in between.
    if (this.emitter.listenerCount(channel) > 0) queueMicrotask(() => this.emitter.emit(channel, message));
  }

  async subscribe(channel: string, listener: Listener): Promise<() => void> {
    const wrapped = (m: string) => {
      delivered.inc();
      listener(m);
    };
    if (this.emitter.listenerCount(channel) === 0) channelsGauge.inc();
    this.emitter.on(channel, wrapped);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.emitter.off(channel, wrapped);
      if (this.emitter.listenerCount(channel) === 0) channelsGauge.dec();
    };
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

class RedisBus implements Bus {
  readonly shared = true;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<Listener>>();
  /** The SUBSCRIBE (or UNSUBSCRIBE) in flight per channel, so they apply in order. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(
    url: string,
    private readonly log: Logger,
    name: string,
  ) {
    const common = {
      connectTimeout: 1_000,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
      connectionName: `nova-bus-${name}`,
    };
    this.pub = new Redis(url, { ...common, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    // ioredis re-subscribes every channel after a reconnect (autoResubscribe).
    this.sub = new Redis(url, { ...common, maxRetriesPerRequest: null });
    this.pub.on("error", (err) => this.log.debug({ err }, "bus publisher error"));
    this.sub.on("error", (err) => this.log.debug({ err }, "bus subscriber error"));
    this.sub.on("message", (channel: string, message: string) => {
      const set = this.listeners.get(channel);
      if (!set) return;
      for (const l of set) {
        delivered.inc();
        try {
          l(message);
        } catch (err) {
          this.log.error({ err, channel }, "bus listener failed");
        }
      }
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    try {
      await this.pub.publish(channel, message);
      published.inc({ result: "ok" });
    } catch (err) {
      published.inc({ result: "error" });
      throw err;
    }
  }

  /**
   * A SUBSCRIBE sent while the connection is still starting puts it in subscriber mode before
   * ioredis's own ready check (INFO) runs, which then fails and the connection errors out: so the
   * first subscriptions wait for "ready" (as the offline queue would have made them wait anyway).
   */
  private subscriberReady(): Promise<void> {
    if (this.sub.status === "ready") return Promise.resolve();
    return new Promise((resolve) => this.sub.once("ready", () => resolve()));
  }

  private serial(channel: string, op: () => Promise<unknown>): Promise<unknown> {
    const prev = this.pending.get(channel) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(op);
    this.pending.set(channel, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.pending.get(channel) === next) this.pending.delete(channel);
      });
    return next;
  }

  async subscribe(channel: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      channelsGauge.inc();
    }
    set.add(listener);
    try {
      // Wait for the channel's SUBSCRIBE (ours or the one already in flight).
      await (first
        ? this.serial(channel, async () => {
            await this.subscriberReady();
            return this.sub.subscribe(channel);
          })
        : (this.pending.get(channel) ?? undefined));
    } catch (err) {
      this.drop(channel, listener);
      throw err;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.drop(channel, listener);
    };
  }

  private drop(channel: string, listener: Listener): void {
    const set = this.listeners.get(channel);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(channel);
    channelsGauge.dec();
    void this.serial(channel, async () => {
      // Someone subscribed again while this was queued: keep the channel.
      if (!this.listeners.has(channel)) await this.sub.unsubscribe(channel);
    }).catch((err) => this.log.debug({ err, channel }, "bus unsubscribe failed"));
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
