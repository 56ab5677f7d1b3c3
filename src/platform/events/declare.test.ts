/** defineEvents: the writer's event, and the consumer's parse and reader of the same schemas. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { uuidv7 } from "../validate.ts";
import { defineEvents, PayloadError, payloadId } from "./declare.ts";
import type { Envelope } from "./envelope.ts";

const id = payloadId();
const THINGS = defineEvents(
  "shop",
  "basket",
  {
    ItemAdded: z.object({ basketId: id, itemIds: z.array(id), note: z.string() }),
    Emptied: z.object({ basketId: id, at: z.string() }),
  },
  (p) => p.basketId,
);

const env = (type: string, payload: Record<string, unknown>): Envelope => ({
  id: uuidv7(),
  type,
  aggregate_type: "basket",
  aggregate_id: "b",
  occurred_at: new Date().toISOString(),
  actor_id: null,
  schema_version: 1,
  traceparent: null,
  payload,
});

test("an event is keyed by its declaration's key and carries its topic's aggregate", () => {
  const basket = uuidv7();
  assert.equal(THINGS.topic, "nova.shop.basket");
  assert.deepEqual(THINGS.types, ["ItemAdded", "Emptied"]);
  assert.deepEqual(THINGS.event("Emptied", "u", { basketId: basket, at: "now" }), {
    type: "Emptied",
    aggregateType: "basket",
    aggregateId: basket,
    actorId: "u",
    payload: { basketId: basket, at: "now" },
  });
});

test("parse: a declared type is typed and its ids lower-cased, an unknown one left alone, a bad one names the field", () => {
  const [basket, item] = [uuidv7(), uuidv7()];
  const e = THINGS.parse(env("ItemAdded", { basketId: basket.toUpperCase(), itemIds: [item], note: "", extra: 1 }));
  assert.deepEqual(e, { type: "ItemAdded", payload: { basketId: basket, itemIds: [item], note: "" } });
  assert.equal(THINGS.parse(env("Paid", {})), undefined);
  const bad = env("ItemAdded", { basketId: basket, itemIds: [item, "x"], note: 3 });
  assert.throws(
    () => THINGS.parse(bad),
    (err: Error) =>
      err instanceof PayloadError &&
      err.message ===
        `ItemAdded ${bad.id}: payload.itemIds[1]: must be an id (UUID); payload.note: Invalid input: expected string, received number`,
  );
  assert.throws(() => THINGS.payload("Emptied", bad), /expected a Emptied event, got ItemAdded/);
});

test("reader: only the masked types and fields are checked; an optional one may be missing", () => {
  const basket = uuidv7();
  const read = THINGS.reader({ ItemAdded: { basketId: true, note: "optional" } });
  assert.deepEqual(read(env("ItemAdded", { basketId: basket })), { type: "ItemAdded", payload: { basketId: basket } });
  assert.deepEqual(read(env("ItemAdded", { basketId: basket, note: "n", itemIds: "not checked" })), {
    type: "ItemAdded",
    payload: { basketId: basket, note: "n" },
  });
  assert.equal(read(env("Emptied", { basketId: basket, at: "now" })), undefined, "a type it does not read");
  assert.throws(() => read(env("ItemAdded", { note: "n" })), /: payload\.basketId: /);
  assert.throws(() => read(env("ItemAdded", { basketId: basket, note: 1 })), /: payload\.note: /);
  assert.throws(() => THINGS.reader({ Paid: {} } as never), /nova\.shop\.basket declares no Paid/);
});
