/**
 * The paging kit (ARCHITECTURE §2: "limits, keyset pages, cursors"), one of
 * each for every list:
 * - `pageSize`: a requested page size of 1 to a list's most; 0 (proto3's
 *   unset) asks for its default, where it has one.
 * - cursors: the base64url of a position (the key of an item: a `seq`, an
 *   id, several values joined), opaque to clients. `decodeCursor` takes back
 *   only what `encodeCursor` gave out (canonical base64url of a position its
 *   rule accepts); anything else is a field error naming `cursor`.
 * - `keysetPage`: the page after a cursor, on a Kysely query: `WHERE key <
 *   cursor ORDER BY key DESC LIMIT n + 1` (or ascending), its rows, each
 *   row's cursor and the next page's (empty after the last page). `pageOf`
 *   is its last step alone, for queries that apply the keyset themselves.
 */
import { type SelectQueryBuilder, type StringReference, sql } from "kysely";
import { invalid } from "./errors.ts";
import { isUuid } from "./validate.ts";

export interface PageSize {
  /** The largest page. */
  readonly max: number;
  /** The size of a page asked for with 0; without it, 0 is refused. */
  readonly dflt?: number;
}

/** The lists of the services (followers, posts, comments, bookmarks, conversations, messages, notifications). */
export const LIST: PageSize = { max: 100, dflt: 20 };
/** A module's scan of every row (to rebuild a projection). */
export const SCAN: PageSize = { max: 1_000, dflt: 500 };

/** A page size: 1 to `size.max`, or `size.dflt` for 0; otherwise VALIDATION_FAILED naming `field`. */
export function pageSize(value: number, size: PageSize, field = "limit"): number {
  if (value === 0 && size.dflt !== undefined) return size.dflt;
  if (!Number.isInteger(value) || value < 1 || value > size.max) throw invalid(field, `must be 1 to ${size.max}`);
  return value;
}

/** Which positions a list's cursors may stand for. A RegExp is one. */
export interface CursorRule {
  test(position: string): boolean;
  /** The refusal of any other cursor ("is not a cursor from this list" unless told). */
  readonly problem?: string;
}

/** A `seq` (bigint) position: 1 to 9223372036854775807, written canonically. */
export const SEQ: CursorRule = { test: (v) => /^[1-9]\d{0,18}$/.test(v) && BigInt(v) <= 9223372036854775807n };
/** An id (UUID) position: lists ordered by their items' ids (UUIDv7: time order). */
export const ID: CursorRule = { test: isUuid };

// Longer than any position a list gives out (the longest: search's, a JSON array with a hashtag).
const MAX_CURSOR = 400;

export function encodeCursor(position: string): string {
  return Buffer.from(position, "utf8").toString("base64url");
}

/** The position a cursor stands for; undefined for the empty cursor (the first page). */
export function decodeCursor(cursor: string, rule: CursorRule, field = "cursor"): string | undefined {
  if (cursor === "") return undefined;
  const v =
    cursor.length <= MAX_CURSOR && /^[A-Za-z0-9_-]+$/.test(cursor)
      ? Buffer.from(cursor, "base64url").toString("utf8")
      : undefined;
  if (v === undefined || encodeCursor(v) !== cursor || !rule.test(v)) {
    throw invalid(field, rule.problem ?? "is not a cursor from this list");
  }
  return v;
}

export interface Page<R> {
  rows: R[];
  /** Each row's cursor: the page after it starts below (or above) it. */
  cursors: string[];
  /** The last row's cursor when there are more rows; "" after the last page. */
  nextCursor: string;
}

/** The page of the `limit + 1` rows a keyset query read: the first `limit`, their cursors, the next cursor. */
export function pageOf<R>(rows: readonly R[], limit: number, cursorOf: (row: R) => string): Page<R> {
  const page = rows.slice(0, limit);
  const cursors = page.map(cursorOf);
  return { rows: page, cursors, nextCursor: rows.length > limit ? (cursors[cursors.length - 1] ?? "") : "" };
}

/**
 * A key column named with its table (`f.seq`, `content.posts.id`): ORDER BY takes a bare name for an output
 * column first, so `SELECT seq::text AS seq ... ORDER BY seq` would sort the text.
 */
export type KeyColumn<DB, TB extends keyof DB> = Extract<StringReference<DB, TB>, `${string}.${string}`>;

export interface Keyset<DB, TB extends keyof DB, O> {
  /** The key column, or columns (most significant first): unique together, so a position is one row. */
  readonly key: KeyColumn<DB, TB> | readonly KeyColumn<DB, TB>[];
  /** The previous page's last key value(s), as its decoded cursor gives them; undefined for the first page. */
  readonly after: string | number | readonly (string | number)[] | undefined;
  readonly limit: number;
  /** Newest (largest key) first unless "asc". */
  readonly order?: "asc" | "desc";
  /** The position a row's cursor stands for (its key values, as `after` will need them back). */
  position(row: O): string;
}

/** The page of `qb` after `k.after` in key order: rows, per-row cursors and the next cursor (one query). */
export async function keysetPage<DB, TB extends keyof DB, O>(
  qb: SelectQueryBuilder<DB, TB, O>,
  k: Keyset<DB, TB, O>,
): Promise<Page<O>> {
  const keys: readonly KeyColumn<DB, TB>[] = typeof k.key === "string" ? [k.key] : k.key;
  const order = k.order ?? "desc";
  let q = qb;
  if (k.after !== undefined) {
    const after = typeof k.after === "object" ? k.after : [k.after];
    if (after.length !== keys.length) throw new Error(`keysetPage: ${keys.length} key columns, ${after.length} values`);
    const cmp = sql.raw(order === "desc" ? "<" : ">");
    q = q.where(sql<boolean>`(${sql.join(keys.map((c) => sql.ref(c)))}) ${cmp} (${sql.join(after)})`);
  }
  for (const c of keys) q = q.orderBy(c, order);
  const rows = await q.limit(k.limit + 1).execute();
  return pageOf(rows, k.limit, (r) => encodeCursor(k.position(r)));
}
