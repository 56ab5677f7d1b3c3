/**
 * Position cursors of keyset-paged lists: the base64url of a positive bigint
 * position (a `seq` column), opaque to clients; a page after a cursor starts
 * strictly below its position. Anything else a client sends is a field error.
 */
import { invalid } from "./errors.ts";

export function encodeCursor(position: string): string {
  return Buffer.from(position, "utf8").toString("base64url");
}

/** The position a cursor stands for; undefined for the empty cursor (the first page). */
export function decodeCursor(cursor: string, field = "cursor"): string | undefined {
  if (cursor === "") return undefined;
  if (cursor.length > 40 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid(field, "is not a cursor from this list");
  const v = Buffer.from(cursor, "base64url").toString("utf8");
  // 1 to 9223372036854775807, written canonically.
  if (!/^[1-9]\d{0,18}$/.test(v) || BigInt(v) > 9223372036854775807n || encodeCursor(v) !== cursor) {
    throw invalid(field, "is not a cursor from this list");
  }
  return v;
}
