import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { clientIp } from "./subscriptions.ts";

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
