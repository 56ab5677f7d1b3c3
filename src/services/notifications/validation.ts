/** Input rules of the notifications service. Every failure is VALIDATION_FAILED naming the field. */
import { invalid } from "../../platform/errors.ts";
import { hostProblem } from "../../platform/security/outbound.ts";
import { uuids } from "../../platform/validate.ts";

export const LIMITS = {
  batchMax: 100,
  deviceIdMax: 128,
  endpointMax: 2048,
} as const;

export const TYPES = [
  "FOLLOW",
  "LIKE",
  "COMMENT",
  "MENTION",
  "MESSAGE",
  "REPLY",
  "COMMENT_LIKE",
  "FOLLOW_REQUEST",
  "FOLLOW_REQUEST_APPROVED",
  // From moderation; always on (a type without a preference column is never turned off).
  "MODERATION",
  "REPORT_ACTIONED",
  "REPORT_DISMISSED",
] as const;
export type NotificationType = (typeof TYPES)[number];

export const PLATFORMS = ["APNS", "FCM", "WEB"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** 1 to 100 notification ids (named by index when bad), without duplicates. */
export function validateIds(values: readonly string[], field = "notificationIds", allowEmpty = false): string[] {
  if (!allowEmpty && values.length === 0) throw invalid(field, "must have at least one id");
  return [...new Set(uuids(field, values, LIMITS.batchMax, "a notification id"))];
}

export function validatePlatform(value: string, field = "platform"): Platform {
  const v = value.trim().toUpperCase();
  if (!(PLATFORMS as readonly string[]).includes(v)) throw invalid(field, `must be one of ${PLATFORMS.join(", ")}`);
  return v as Platform;
}

/**
 * A provider token: APNs device tokens are hex (32 bytes today, up to 100);
 * FCM registration tokens are up to 4 KB of base64url-like text with ':'.
 */
export function validateToken(platform: Platform, value: string, field = "token"): string {
  const v = value.trim();
  if (v.length === 0) throw invalid(field, "is required");
  if (platform === "APNS") {
    if (!/^[0-9a-fA-F]+$/.test(v) || v.length < 64 || v.length > 200 || v.length % 2 !== 0) {
      throw invalid(field, "must be an APNs device token (64 to 200 hex digits)");
    }
    return v.toLowerCase();
  }
  if (!/^[A-Za-z0-9_:.-]+$/.test(v) || v.length < 32 || v.length > 4096) {
    throw invalid(field, "must be an FCM registration token (32 to 4096 of A-Z, a-z, 0-9, '_', ':', '.', '-')");
  }
  return v;
}

export function validateDeviceId(value: string, field = "deviceId"): string {
  const v = value.trim();
  if (v.length === 0) throw invalid(field, "is required");
  if (v.length > LIMITS.deviceIdMax || !/^[A-Za-z0-9._:-]+$/.test(v)) {
    throw invalid(field, `must be 1 to ${LIMITS.deviceIdMax} of A-Z, a-z, 0-9, '.', '_', ':' and '-'`);
  }
  return v;
}

/** A token shown in logs: its platform and first characters only. */
export function redactToken(token: string): string {
  return token.length <= 8 ? "…" : `${token.slice(0, 6)}…(${token.length})`;
}

/** Bytes of a base64url field, named when it is not base64url of `size` bytes. */
function base64url(value: string, field: string, size: number, what: string): Buffer {
  const v = value.trim();
  const bytes = /^[A-Za-z0-9_-]+={0,2}$/.test(v) ? Buffer.from(v, "base64url") : Buffer.alloc(0);
  if (bytes.length !== size) throw invalid(field, `must be ${what} (${size} bytes, base64url)`);
  return bytes;
}

export interface WebSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/**
 * A browser's PushSubscription: an https endpoint on a public host (the server will POST to it:
 * no internal address may be named; `allowLoopback` is the tests' setting), the P-256 public key
 * (an uncompressed point) and the 16-byte auth secret.
 */
export function validateWebSubscription(
  s: { endpoint: string; p256dh: string; auth: string },
  allowLoopback: boolean,
): WebSubscription {
  const raw = s.endpoint.trim();
  if (raw.length === 0) throw invalid("endpoint", "is required for WEB");
  if (raw.length > LIMITS.endpointMax) throw invalid("endpoint", `must be at most ${LIMITS.endpointMax} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("endpoint", "must be an https URL");
  }
  if (url.protocol !== "https:") throw invalid("endpoint", "must be an https URL");
  if (url.username || url.password || url.hash) throw invalid("endpoint", "must have no credentials or fragment");
  const problem = hostProblem(url, allowLoopback);
  if (problem) throw invalid("endpoint", `host ${problem}`);
  const key = base64url(s.p256dh, "p256dh", 65, "an uncompressed P-256 public key");
  if (key[0] !== 0x04) throw invalid("p256dh", "must be an uncompressed P-256 public key (65 bytes, base64url)");
  base64url(s.auth, "auth", 16, "the subscription's auth secret");
  return { endpoint: url.href, p256dh: s.p256dh.trim(), auth: s.auth.trim() };
}
