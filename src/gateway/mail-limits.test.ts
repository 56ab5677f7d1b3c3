import assert from "node:assert/strict";
import { test } from "node:test";
import { NovaError } from "../platform/errors.ts";
import { MailLimits } from "./mail-limits.ts";

async function refusal(p: Promise<unknown>): Promise<NovaError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NovaError);
    return err;
  }
  assert.fail("expected RATE_LIMITED");
}

test("per address (any case) and per IP, the field named; 0 turns a budget off", async () => {
  const limits = new MailLimits({ perAddress: 2, perIp: 3, signUp: true });
  await limits.spend("email", { address: "a@example.com", ip: "10.0.0.1" });
  await limits.spend("email", { address: "A@Example.com ", ip: "10.0.0.2" });
  const addr = await refusal(limits.spend("email", { address: "a@example.com", ip: "10.0.0.3" }));
  assert.deepEqual([addr.code, addr.field], ["RATE_LIMITED", "email"]);
  await limits.spend("email", { address: "b@example.com", ip: "10.0.0.9" });
  await limits.spend("email", { address: "c@example.com", ip: "10.0.0.9" });
  await limits.spend("email", { userId: "u1", ip: "10.0.0.9" });
  const ip = await refusal(limits.spend("email", { address: "d@example.com", ip: "10.0.0.9" }));
  assert.equal(ip.code, "RATE_LIMITED");
  const off = new MailLimits({ perAddress: 0, perIp: 0, signUp: false });
  for (let i = 0; i < 50; i++) await off.spend("email", { address: "a@example.com", ip: "10.0.0.1" });
});
