/** Rate limits on real Redis: two limiter instances (two gateway replicas) share one budget. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { services, unique } from "../../test/helpers.ts";
import { RateLimits } from "./ratelimit.ts";

let a: Redis;
let b: Redis;
before(async () => {
  const s = await services();
  a = new Redis(s.redis);
  b = new Redis(s.redis);
  await a.ping();
});
after(() => {
  a.disconnect();
  b.disconnect();
});

const budgets = { windowS: 60, userQueries: 4, userMutations: 2, ipQueries: 10, ipMutations: 10 };

test("two replicas on one Redis share the per-user budget; queries and mutations are separate", async () => {
  const prefix = `test:rl:${unique("p")}`;
  const [one, two] = [new RateLimits(budgets, a, prefix), new RateLimits(budgets, b, prefix)];
  const who = { userId: unique("u"), ip: "10.0.0.1" };
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push(await (i % 2 ? two : one).consume("query", who));
  assert.ok(seen.every((d) => d.allowed));
  assert.deepEqual(
    seen.map((d) => d.remaining),
    [3, 2, 1, 0],
  );
  const over = await two.consume("query", who);
  assert.equal(over.allowed, false);
  assert.equal(over.refusedBy, "user:query");
  assert.ok(over.retryAfterS >= 1 && over.retryAfterS <= 60);
  assert.equal((await one.consume("mutation", who)).allowed, true, "mutations have their own budget");
  // Another user from the same IP still has a budget, until the IP's runs out.
  const other = { userId: unique("u"), ip: "10.0.0.1" };
  assert.equal((await one.consume("query", other)).allowed, true);
});

test("per IP for anonymous requests; a batch spends one point per operation", async () => {
  const prefix = `test:rl:${unique("p")}`;
  const rl = new RateLimits(budgets, a, prefix);
  const anon = { ip: `10.1.${Math.floor(Math.random() * 250)}.1` };
  assert.equal((await rl.consume("query", anon, 8)).remaining, 2);
  const d = await rl.consume("query", anon, 3);
  assert.equal(d.allowed, false);
  assert.equal(d.refusedBy, "ip:query");
});

test("without Redis the counters are in-process; a budget of 0 is not enforced", async () => {
  const rl = new RateLimits({ ...budgets, ipQueries: 0 });
  const who = { userId: "u", ip: "x" };
  for (let i = 0; i < 4; i++) assert.equal((await rl.consume("query", who)).allowed, true);
  assert.equal((await rl.consume("query", who)).allowed, false);
  assert.equal((await new RateLimits({ ...budgets, ipQueries: 0 }).consume("query", { ip: "x" })).limit, 0);
});

test("Redis unreachable: each replica falls back to its own counters instead of failing", async () => {
  const dead = new Redis("redis://127.0.0.1:1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  dead.on("error", () => {});
  const rl = new RateLimits(budgets, dead, `test:rl:${unique("p")}`);
  const who = { userId: "u", ip: "x" };
  for (let i = 0; i < 4; i++) assert.equal((await rl.consume("query", who)).allowed, true);
  assert.equal((await rl.consume("query", who)).allowed, false);
  dead.disconnect();
});
