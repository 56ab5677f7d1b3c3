import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { registry } from "../../platform/observability/metrics.ts";
import { clientIp, pushStream, type RealtimeContext } from "./subscriptions.ts";

test("the subscriber's IP follows the trustProxy rule HTTP uses", () => {
  const req = {
    headers: { "x-forwarded-for": "203.0.113.7" },
    socket: { remoteAddress: "127.0.0.1" },
    connection: { remoteAddress: "127.0.0.1" },
  } as unknown as IncomingMessage;
  assert.equal(clientIp(req, false), "127.0.0.1", "no proxy trusted: the peer");
  assert.equal(clientIp(req, "loopback"), "203.0.113.7");
  assert.equal(clientIp(req, 1), "203.0.113.7");
  assert.equal(clientIp(req, true), "203.0.113.7");
  assert.equal(clientIp(req, "10.0.0.0/8"), "127.0.0.1", "an untrusted peer's header is ignored");
});

// The suite waits on this gauge before publishing: it counted a subscription before the bus had
// subscribed its channels, so a push published at once (a busy Redis) was missed.
test("a subscription counts as active only once every channel is subscribed", async () => {
  const active = async () =>
    (await registry.getSingleMetric("nova_realtime_subscriptions")?.get())?.values[0]?.value ?? 0;
  const pending: (() => void)[] = [];
  const bus = {
    subscribe: () =>
      new Promise<() => void>((resolve) => {
        pending.push(() => resolve(() => undefined));
      }),
  };
  const ctx = {
    realtime: { bus, socket: { bufferedAmount: 0 }, limits: { maxQueue: 10, maxBufferedBytes: 1 << 20 } },
  } as unknown as RealtimeContext;
  const before = await active();
  const stream = pushStream(ctx, ["a", "b"], async () => undefined);
  await new Promise((r) => setImmediate(r));
  assert.equal(pending.length, 2);
  assert.equal(await active(), before, "not active while the bus subscribes");
  pending[0]?.();
  await new Promise((r) => setImmediate(r));
  assert.equal(await active(), before, "one channel is not enough");
  pending[1]?.();
  const it = await stream;
  assert.equal(await active(), before + 1);
  await it.return?.();
  assert.equal(await active(), before);
});
