/** Input rules of the graph service. Every failure is VALIDATION_FAILED naming the field. */
import { invalid } from "../../platform/errors.ts";
import { text, uuid, uuids } from "../../platform/validate.ts";

/** Most ids in one batch call (GetRelationships, GetCounts). */
export const MAX_BATCH = 100;

/** A user id: a UUID, normalized to lower case. */
export function validateUserId(value: string, field = "userId"): string {
  return uuid(field, value, "a user id");
}

/** At most MAX_BATCH user ids; a bad one is named by its index (`userIds[3]`). */
export function validateUserIds(values: readonly string[], field = "userIds"): string[] {
  return uuids(field, values, MAX_BATCH, "a user id");
}

/** Muted words a user may keep. */
export const MAX_MUTED_WORDS = 100;

/** A muted phrase: one line of 1 to 100 characters, inner runs of whitespace made one space. */
export function validatePhrase(value: string, field = "phrase"): string {
  return text(field, value, { max: 100 }).replace(/\s+/g, " ");
}

/** An expiry: empty (never) or an RFC 3339 time in the future. */
export function validateExpiry(value: string, now = Date.now(), field = "expiresAt"): Date | null {
  const v = value.trim();
  if (v === "") return null;
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw invalid(field, "must be an RFC 3339 date-time");
  if (t <= now) throw invalid(field, "must be in the future");
  return new Date(t);
}
