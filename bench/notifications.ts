/**
 * The notifications service on the harness's real PostgreSQL, in a fresh database:
 * - inbox throughput: PostLiked events applied by the inbox handler (effect +
 *   processed_events + NotificationCreated in one transaction), 8 at a time,
 *   side by side: every event into ONE hot group (one post liked by everyone:
 *   the group lock serialises them) and events spread over 1,000 recipients;
 * - reads for a user with 1,000 notifications: a page of 20 (ListNotifications
 *   skeleton + GetNotifications hydrate) and the exact unread count.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { ensureServices } from "../scripts/services.ts";
import { migrate } from "../src/platform/db/migrator.ts";
import { applyOnce, deliverBatch } from "../src/platform/events/consumer.ts";
import type { Envelope } from "../src/platform/events/envelope.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { eventTables } from "../src/platform/events/sets.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { runWithCall } from "../src/platform/rpc/context.ts";
import { uuidv7 } from "../src/platform/validate.ts";
import { createInbox } from "../src/services/notifications/consumers.ts";
import { createNotificationService } from "../src/services/notifications/service.ts";
import { scratchDatabase } from "./lib.ts";

const say = (m: string) => process.stderr.write(`notifications: ${m}\n`);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) * 100) / 100;
}

const liked = (postId: string, author: string, liker: string): Envelope => ({
  id: uuidv7(),
  type: "PostLiked",
  aggregate_type: "post",
  aggregate_id: postId,
  occurred_at: new Date().toISOString(),
  actor_id: liker,
  schema_version: 1,
  traceparent: null,
  payload: { postId, userId: liker, authorId: author },
});

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const s = await ensureServices();
  const scratch = await scratchDatabase(s.postgres, { poolMax: 12, applicationName: "bench-notifications" });
  try {
    await migrate(scratch.db.writerPool, [
      { schema: "notifications", dir: new URL("../src/services/notifications/migrations/", import.meta.url) },
      eventTables("notifications"),
    ]);
    const k = scratch.db.kysely<unknown>().writer;
    const inbox = createInbox({
      outbox: createOutbox({ service: "notifications", schema: "notifications" }),
      options: { groupWindowMs: 24 * 3_600_000 },
    });
    const n = quick ? 1_000 : 5_000;
    const applyAll = async (events: Envelope[]) => {
      const t0 = performance.now();
      let i = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (i < events.length) await applyOnce(k, inbox.handler, events[i++] as Envelope);
        }),
      );
      return Math.round(events.length / ((performance.now() - t0) / 1000));
    };
    /** The consumers' real path: micro-batches of 100 in one transaction each, in order (one partition). */
    const log = createLogger({ level: "error" });
    const batched = async (events: Envelope[]) => {
      const t0 = performance.now();
      for (let i = 0; i < events.length; i += 100) {
        await deliverBatch(
          k,
          inbox.handler,
          events.slice(i, i + 100).map((raw) => ({ topic: "nova.content.post", raw })),
          { log },
        );
      }
      return Math.round(events.length / ((performance.now() - t0) / 1000));
    };
    const hotEvents = () => {
      const [author, post] = [randomUUID(), randomUUID()];
      return Array.from({ length: n }, () => liked(post, author, randomUUID()));
    };
    const recipients = Array.from({ length: 1_000 }, () => randomUUID());
    const spreadEvents = () =>
      Array.from({ length: n }, (_, i) => liked(randomUUID(), recipients[i % 1000] as string, randomUUID()));
    const hot = await applyAll(hotEvents());
    const spread = await applyAll(spreadEvents());
    say(`one event per transaction, 8 at once: one hot group ${hot} events/s, 1,000 recipients ${spread} events/s`);
    const hotBatched = await batched(hotEvents());
    const spreadBatched = await batched(spreadEvents());
    say(`batches of 100: one hot group ${hotBatched} events/s, 1,000 recipients ${spreadBatched} events/s`);

    // Reads: a user with 1,000 notifications (distinct posts), 1 in 2 read.
    const reader = randomUUID();
    for (let i = 0; i < 1_000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () => applyOnce(k, inbox.handler, liked(randomUUID(), reader, randomUUID()))),
      );
    }
    await scratch.db.writerPool.query(
      "UPDATE notifications.notifications SET read_at = now() WHERE user_id = $1 AND seq % 2 = 0",
      [reader],
    );
    const svc = createNotificationService({ db: scratch.db.kysely<unknown>(), maxDevices: 10 });
    const as = <T>(fn: () => Promise<T>) => runWithCall({ user: { userId: reader, sessionId: "s" } }, fn);
    const iterations = quick ? 200 : 1_000;
    const page: number[] = [];
    const count: number[] = [];
    for (let i = 0; i < iterations; i++) {
      let t = performance.now();
      await as(async () => {
        // biome-ignore lint/suspicious/noExplicitAny: the ServiceImpl's second argument (HandlerContext) is unused
        const ctx = {} as any;
        const skel = await svc.listNotifications({ cursor: "", limit: 20 } as never, ctx);
        await svc.getNotifications(
          { notificationIds: (skel as { notificationIds: string[] }).notificationIds } as never,
          ctx,
        );
        page.push(performance.now() - t);
        t = performance.now();
        await svc.getUnreadCount({} as never, ctx);
        count.push(performance.now() - t);
      });
    }
    say(`page of 20: p50 ${pct(page, 50)} ms, p99 ${pct(page, 99)} ms; unread count p50 ${pct(count, 50)} ms`);
    return {
      inbox_events_per_s: {
        per_event_tx_8_concurrent: { one_hot_group: hot, spread_1000_recipients: spread },
        batches_of_100: { one_hot_group: hotBatched, spread_1000_recipients: spreadBatched },
        events: n,
      },
      read_ms: {
        page20_list_and_hydrate: { p50: pct(page, 50), p99: pct(page, 99) },
        unread_count_of_1000: { p50: pct(count, 50), p99: pct(count, 99) },
        iterations,
      },
    };
  } finally {
    await scratch.drop();
  }
}
