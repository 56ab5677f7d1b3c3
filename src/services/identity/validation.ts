/**
 * Input rules of the identity service. Each validator returns the normalized
 * value or throws a VALIDATION_FAILED error that names the field.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { invalid } from "../../platform/errors.ts";
import { codePoints, text, wellFormed } from "../../platform/validate.ts";

const emailSchema = z.email();

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

export function validateEmail(value: string, field = "email"): string {
  const v = value.trim();
  if (v.length === 0) throw invalid(field, "is required");
  if (v.length > LIMITS.emailMax) throw invalid(field, `must be at most ${LIMITS.emailMax} characters`);
  if (!emailSchema.safeParse(v).success) throw invalid(field, "is not a valid email address");
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
  wellFormed(field, value);
  const n = codePoints(value);
  if (n < LIMITS.passwordMin) throw invalid(field, `must be at least ${LIMITS.passwordMin} characters`);
  if (n > LIMITS.passwordMax) throw invalid(field, `must be at most ${LIMITS.passwordMax} characters`);
  if (isCommonPassword(value)) throw invalid(field, "is too common; choose another");
  return value;
}

// Profiles are stored as typed (no NFC: that would rewrite existing names on their next edit).
export function validateDisplayName(value: string): string {
  return text("displayName", value, { max: LIMITS.displayNameMax, optional: true, nfc: false });
}

export function validateBio(value: string): string {
  return text("bio", value, { max: LIMITS.bioMax, optional: true, nfc: false, multiline: true });
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
