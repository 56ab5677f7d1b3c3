import assert from "node:assert/strict";
import { test } from "node:test";
import type { NovaError } from "../platform/errors.ts";
import { runWithCall } from "../platform/rpc/context.ts";
import { attachBudget, ConcurrencyLimiter, guardClient } from "./budget.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the call budget counts every RPC of the request and refuses the one past it", async () => {
  const limiter = new ConcurrencyLimiter("identity", 10, 10);
  let calls = 0;
  const client = guardClient({ getUser: async () => ++calls } as never, limiter) as unknown as {
    getUser(): Promise<number>;
  };
  const ctx = {};
  attachBudget(ctx, 3);
  await runWithCall(ctx, async () => {
    await Promise.all([client.getUser(), client.getUser(), client.getUser()]);
    await assert.rejects(client.getUser(), (e: NovaError) => e.code === "CALL_BUDGET_EXCEEDED");
  });
  assert.equal(calls, 3, "the refused call never reached the backend");
  await runWithCall({}, () => client.getUser()); // another request without a budget (e.g. /readyz)
  assert.equal(calls, 4);
});

test("per-backend concurrency: at most max in flight, a bounded queue, then UNAVAILABLE", async () => {
  const limiter = new ConcurrencyLimiter("graph", 2, 2);
  let peak = 0;
  const work = () =>
    limiter.run(async () => {
      peak = Math.max(peak, limiter.inflight);
      await sleep(30);
    });
  const results = await Promise.allSettled(Array.from({ length: 6 }, work));
  assert.equal(peak, 2);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 4, "2 running + 2 queued");
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.ok(refused.every((r) => (r.reason as NovaError).code === "UNAVAILABLE"));
});

test("a queued call gives up at the request's deadline", async () => {
  const limiter = new ConcurrencyLimiter("content", 1, 10);
  const slow = limiter.run(() => sleep(200));
  await runWithCall({ deadline: Date.now() + 50 }, async () => {
    await assert.rejects(
      limiter.run(async () => 1),
      (e: NovaError) => e.code === "DEADLINE_EXCEEDED",
    );
  });
  await slow;
});
