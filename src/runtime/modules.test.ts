import assert from "node:assert/strict";
import { test } from "node:test";
import { allowedCallers, moduleNames, resolveTargets, startOrder } from "./modules.ts";

test("targets expand and validate; dependencies start first", () => {
  assert.deepEqual(resolveTargets(["all"]).sort(), [...moduleNames].sort());
  assert.deepEqual(resolveTargets(["gateway,identity"]), ["identity", "gateway"]);
  assert.deepEqual(startOrder(["gateway", "identity"]), ["identity", "gateway"]);
  assert.throws(() => resolveTargets(["nope"]), /unknown target "nope"/);
  assert.throws(() => resolveTargets([""]), /no target/);
});

test("who may call a service follows the dependency table", () => {
  assert.deepEqual([...allowedCallers("nova.identity.v1.IdentityService")].sort(), [
    "content",
    "export",
    "gateway",
    "graph",
    "messaging",
    "moderation",
    "search",
  ]);
  assert.deepEqual([...allowedCallers("nova.graph.v1.GraphService")].sort(), [
    "content",
    "export",
    "gateway",
    "messaging",
    "search",
  ]);
  assert.deepEqual([...allowedCallers("nova.search.v1.SearchService")], ["gateway"]);
  assert.deepEqual([...allowedCallers("nova.feed.v1.FeedService")], ["gateway"]);
  assert.deepEqual([...allowedCallers("nova.messaging.v1.MessagingService")].sort(), [
    "export",
    "gateway",
    "moderation",
  ]);
  assert.deepEqual([...allowedCallers("nova.export.v1.ExportService")], ["gateway"]);
  assert.deepEqual([...allowedCallers("nova.moderation.v1.ModerationService")], ["gateway"]);
  assert.equal(allowedCallers("nova.unknown.v1.X").size, 0);
});
