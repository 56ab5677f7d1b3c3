import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthRegistry, ServingStatus } from "./health.ts";

test("grpc.health.v1 Check answers per service and Watch streams changes", async () => {
  const registry = new HealthRegistry();
  registry.set("nova.x.v1.X", ServingStatus.SERVING);
  const client = createClient(
    Health,
    createRouterTransport((r) => {
      r.service(Health, registry.impl());
    }),
  );
  assert.equal((await client.check({ service: "" })).status, ServingStatus.SERVING);
  assert.equal((await client.check({ service: "nova.x.v1.X" })).status, ServingStatus.SERVING);
  await assert.rejects(client.check({ service: "nope" }), /unknown service/);

  const abort = new AbortController();
  const seen: ServingStatus[] = [];
  const stream = client.watch({ service: "nova.x.v1.X" }, { signal: abort.signal });
  const done = (async () => {
    try {
      for await (const m of stream) {
        seen.push(m.status);
        if (seen.length === 1) setTimeout(() => registry.setAll(ServingStatus.NOT_SERVING), 10);
        if (seen.length === 2) abort.abort();
      }
    } catch {
      // aborted
    }
  })();
  await done;
  assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
});
