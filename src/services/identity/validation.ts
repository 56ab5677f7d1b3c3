/**
 * Input rules of the identity service. Each validator returns the normalized
 * value or throws a VALIDATION_FAILED error that names the field.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { invalid } from "../../platform/errors.ts";

const emailSchema = z.email();

// Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export const LIMITS = {
  emailMax: 254,
  usernameMin: 3,
  usernameMax: 30,
  passwordMin: 10,
  passwordMax: 256,
  displayNameMax: 50,
  bioMax: 300,
  avatarUrlMax: 2048,
} as const;

export function validateEmail(value: string): string {
  const v = value.trim();
  if (v.length === 0) throw invalid("email", "is required");
  if (v.length > LIMITS.emailMax) throw invalid("email", `must be at most ${LIMITS.emailMax} characters`);
  if (!emailSchema.safeParse(v).success) throw invalid("email", "is not a valid email address");
  return v;
}

/** Usernames are case-insensitive: stored and compared in lower case. */
export function validateUsername(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.length < LIMITS.usernameMin || v.length > LIMITS.usernameMax) {
    throw invalid("username", `must be ${LIMITS.usernameMin} to ${LIMITS.usernameMax} characters`);
  }
  if (!/^[a-z0-9_]+$/.test(v)) throw invalid("username", "may contain only letters a-z, digits and _");
  return v;
}

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(new URL("./common-passwords.txt", import.meta.url), "utf8")
      .split("\n")
      .map((l) => l.trim().toLowerCase())
      .filter((l) => l && !l.startsWith("#")),
  );
  return common;
}

export function isCommonPassword(value: string): boolean {
  return commonPasswords().has(value.toLowerCase());
}

export function validatePassword(value: string, field = "password"): string {
  const n = codePoints(value);
  if (n < LIMITS.passwordMin) throw invalid(field, `must be at least ${LIMITS.passwordMin} characters`);
  if (n > LIMITS.passwordMax) throw invalid(field, `must be at most ${LIMITS.passwordMax} characters`);
  if (isCommonPassword(value)) throw invalid(field, "is too common; choose another");
  return value;
}

function boundedText(field: string, value: string, max: number, multiline: boolean): string {
  const v = value.trim();
  if (codePoints(v) > max) throw invalid(field, `must be at most ${max} characters`);
  const bad = multiline ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/ : CONTROL;
  if (bad.test(v)) throw invalid(field, "must not contain control characters");
  return v;
}

export function validateDisplayName(value: string): string {
  return boundedText("displayName", value, LIMITS.displayNameMax, false);
}

export function validateBio(value: string): string {
  return boundedText("bio", value, LIMITS.bioMax, true);
}

/** An https URL, or "" to clear the avatar. */
export function validateAvatarUrl(value: string): string {
  const v = value.trim();
  if (v === "") return "";
  if (v.length > LIMITS.avatarUrlMax) throw invalid("avatarUrl", `must be at most ${LIMITS.avatarUrlMax} characters`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid("avatarUrl", "is not a valid URL");
  }
  if (url.protocol !== "https:") throw invalid("avatarUrl", "must be an https URL");
  if (url.username || url.password) throw invalid("avatarUrl", "must not contain credentials");
  return url.toString();
}

export function validateId(value: string, field = "id"): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw invalid(field, "is not a valid id");
  }
  return value.toLowerCase();
}
