import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from "kysely";
import { NovaError } from "./errors.ts";
import { decodeCursor, encodeCursor, ID, keysetPage, LIST, pageOf, pageSize, SEQ } from "./paging.ts";

/** Asserts `fn` fails with VALIDATION_FAILED naming `field` in its field and message (never another error). */
const rejects = (field: string, fn: () => unknown) =>
  assert.throws(
    fn,
    (err) =>
      err instanceof NovaError &&
      err.code === "VALIDATION_FAILED" &&
      err.field === field &&
      err.message.startsWith(`${field}: `),
  );

test("limit: 0 means the default, 1 to 100 pass, the rest name the field", () => {
  assert.equal(pageSize(0, LIST), 20);
  fc.assert(fc.property(fc.integer({ min: 1, max: LIST.max }), (n) => assert.equal(pageSize(n, LIST), n)));
  fc.assert(
    fc.property(fc.integer({ min: LIST.max + 1, max: 2 ** 32 - 1 }), (n) => rejects("limit", () => pageSize(n, LIST))),
  );
  rejects("limit", () => pageSize(-1, LIST));
  rejects("limit", () => pageSize(1.5, LIST));
  // Without a default (the gateway's `first`), 0 is refused too; the field is the caller's.
  rejects("first", () => pageSize(0, { max: 50 }, "first"));
  assert.equal(pageSize(50, { max: 50 }, "first"), 50);
});

test("cursors round-trip; anything not made by encodeCursor is a coded error, never a database error", () => {
  assert.equal(decodeCursor("", SEQ), undefined);
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 9223372036854775807n }), (n) => {
      assert.equal(decodeCursor(encodeCursor(n.toString()), SEQ), n.toString());
    }),
  );
  // Out of bigint range, zero, leading zeros, signs, junk and overlong input.
  for (const v of ["9223372036854775808", "99999999999999999999", "0", "007", "-5", "1e3", "abc"]) {
    rejects("cursor", () => decodeCursor(encodeCursor(v), SEQ));
  }
  for (const c of ["zz!", "a b", "MTI=", "x".repeat(41)]) rejects("cursor", () => decodeCursor(c, SEQ));
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      try {
        const v = decodeCursor(s, SEQ);
        assert.ok(v === undefined || encodeCursor(v) === s);
      } catch (err) {
        assert.ok(err instanceof NovaError && err.field === "cursor", String(err));
      }
    }),
  );
});

test("id cursors take back UUIDs in Nova's form; a rule may name its own field and problem", () => {
  fc.assert(
    fc.property(fc.uuid(), (id) => {
      assert.equal(decodeCursor(encodeCursor(id), ID), id);
      rejects("cursor", () => decodeCursor(encodeCursor(`A${id.slice(1)}`), ID)); // upper case
    }),
  );
  rejects("cursor", () => decodeCursor(encodeCursor("17"), ID));
  // The base64url a service gave out, padded or with characters the decoder would skip, is not a cursor.
  const c = encodeCursor("0190c7a4-0000-7000-8000-000000000000");
  for (const bad of [`${c}==`, `${c}!`, `${c.slice(0, -1)}`]) rejects("cursor", () => decodeCursor(bad, ID));
  assert.throws(
    () => decodeCursor(encodeCursor("x"), { test: () => false, problem: "is not a cursor from this search" }, "after"),
    /^NovaError: after: is not a cursor from this search$/,
  );
});

test("pageOf: the first `limit` rows, each one's cursor, and the last one's as the next cursor when there are more", () => {
  const rows = [{ k: "5" }, { k: "4" }, { k: "3" }];
  assert.deepEqual(
    pageOf(rows, 2, (r) => r.k),
    { rows: rows.slice(0, 2), cursors: ["5", "4"], nextCursor: "4" },
  );
  assert.deepEqual(
    pageOf(rows, 3, (r) => r.k),
    { rows, cursors: ["5", "4", "3"], nextCursor: "" },
  );
  assert.deepEqual(
    pageOf([], 3, (r: { k: string }) => r.k),
    { rows: [], cursors: [], nextCursor: "" },
  );
});

interface Db {
  "s.items": { owner: string; seq: string; rank: number; id: string };
}

/** A Kysely whose every query answers `rows`, keeping what it was sent. */
function recording(rows: Record<string, unknown>[]) {
  const sent: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(q);
      return { rows: rows as R[] };
    },
    streamQuery: () => {
      throw new Error("not streamed");
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const db = new Kysely<Db>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return { db, sent };
}

test("keysetPage: WHERE key < cursor ORDER BY key DESC LIMIT n + 1, then the page and its cursors", async () => {
  const { db, sent } = recording([{ seq: "9" }, { seq: "8" }, { seq: "7" }]);
  const q = db.selectFrom("s.items as i").select("i.seq").where("i.owner", "=", "me");
  const page = await keysetPage(q, { key: "i.seq", after: "10", limit: 2, position: (r) => r.seq });
  assert.equal(
    sent[0]?.sql,
    'select "i"."seq" from "s"."items" as "i" where "i"."owner" = $1 and ("i"."seq") < ($2) order by "i"."seq" desc limit $3',
  );
  assert.deepEqual(sent[0]?.parameters, ["me", "10", 3]);
  assert.deepEqual(page, {
    rows: [{ seq: "9" }, { seq: "8" }],
    cursors: [encodeCursor("9"), encodeCursor("8")],
    nextCursor: encodeCursor("8"),
  });
  // The first page has no WHERE on the key; a short page has no next cursor.
  const first = recording([{ seq: "9" }]);
  const p1 = await keysetPage(first.db.selectFrom("s.items as i").select("i.seq"), {
    key: "i.seq",
    after: undefined,
    limit: 2,
    position: (r) => r.seq,
  });
  assert.equal(first.sent[0]?.sql, 'select "i"."seq" from "s"."items" as "i" order by "i"."seq" desc limit $1');
  assert.equal(p1.nextCursor, "");
});

test("keysetPage: several key columns compare as a row, ascending when asked", async () => {
  const { db, sent } = recording([]);
  await keysetPage(db.selectFrom("s.items as i").select(["i.rank", "i.id"]), {
    key: ["i.rank", "i.id"],
    after: [0.5, "0190c7a4-0000-7000-8000-000000000000"],
    limit: 10,
    order: "asc",
    position: (r) => `${r.rank}:${r.id}`,
  });
  assert.equal(
    sent[0]?.sql,
    'select "i"."rank", "i"."id" from "s"."items" as "i" where ("i"."rank", "i"."id") > ($1, $2) order by "i"."rank" asc, "i"."id" asc limit $3',
  );
  await assert.rejects(
    keysetPage(db.selectFrom("s.items as i").select("i.id"), {
      key: ["i.rank", "i.id"],
      after: ["0.5"],
      limit: 10,
      position: (r) => r.id,
    }),
    /2 key columns, 1 values/,
  );
});
