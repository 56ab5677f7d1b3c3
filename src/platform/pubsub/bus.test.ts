/**
 * The Redis bus on the harness's real Redis: subscribing at once, while the connections are still
 * starting (as a gateway does for its session channels at start), works and delivers — it used to
 * put the subscriber in subscriber mode before ioredis's ready check, which then failed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { services } from "../../../test/helpers.ts";
import { createBus } from "./bus.ts";

test("subscriptions made before the connection is ready are taken and delivered", async () => {
  const errors: unknown[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => errors.push(line) });
  const bus = createBus({ redisUrl: (await services()).redis, log, name: "bus-test" });
  try {
    const got = new Set<string>();
    // One subscription every millisecond while the connections start: some land before the socket
    // is open (queued), some between its opening and ioredis's ready check (the window that broke).
    const channels = Array.from({ length: 60 }, (_, i) => `nova:test:${i}`);
    const subs = await Promise.all(
      channels.map(
        (c, i) =>
          new Promise<() => void>((resolve, reject) =>
            setTimeout(() => bus.subscribe(c, (m) => got.add(`${c}=${m}`)).then(resolve, reject), i),
          ),
      ),
    );
    for (const c of channels) await bus.publish(c, "x");
    const end = Date.now() + 10_000;
    while (got.size < channels.length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.size, channels.length, "every subscription delivered");
    assert.deepEqual(
      errors.filter((l) => String(l).includes("subscriber mode")),
      [],
      "no subscriber-mode error on the connection",
    );
    for (const u of subs) u();
  } finally {
    await bus.close();
  }
});
