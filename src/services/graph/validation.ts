/** Input rules of the graph service. Every failure is VALIDATION_FAILED naming the field. */
import { invalid } from "../../platform/errors.ts";

/** Most ids in one batch call (GetRelationships, GetCounts). */
export const MAX_BATCH = 100;
/** Largest page of ListFollowers / ListFollowing; 0 asks for DEFAULT_PAGE. */
export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A user id: a UUID, normalized to lower case. */
export function validateUserId(value: string, field = "userId"): string {
  const v = value.trim().toLowerCase();
  if (!UUID.test(v)) throw invalid(field, "must be a user id (UUID)");
  return v;
}

/** At most MAX_BATCH user ids; a bad one is named by its index (`userIds[3]`). */
export function validateUserIds(values: readonly string[], field = "userIds"): string[] {
  if (values.length > MAX_BATCH) throw invalid(field, `must have at most ${MAX_BATCH} ids`);
  return values.map((v, i) => validateUserId(v, `${field}[${i}]`));
}

export function validateLimit(limit: number, field = "limit"): number {
  if (limit === 0) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(field, `must be 1 to ${MAX_PAGE}`);
  return limit;
}

/**
 * A list cursor is the base64url of the position (`seq`) of the last item
 * seen: opaque to clients, and a page after it starts strictly below it.
 */
export function encodeCursor(seq: string): string {
  return Buffer.from(seq, "utf8").toString("base64url");
}

/** The position a cursor stands for; undefined for the empty cursor (the first page). */
export function decodeCursor(cursor: string, field = "cursor"): string | undefined {
  if (cursor === "") return undefined;
  if (cursor.length > 40 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid(field, "is not a cursor from this list");
  const v = Buffer.from(cursor, "base64url").toString("utf8");
  // A bigint position: 1 to 9223372036854775807, written canonically.
  if (!/^[1-9]\d{0,18}$/.test(v) || BigInt(v) > 9223372036854775807n || encodeCursor(v) !== cursor) {
    throw invalid(field, "is not a cursor from this list");
  }
  return v;
}
