/**
 * Two-factor sign-in's rules, in one place: TOTP (RFC 6238 through otplib 13's functional API: SHA-1,
 * 6 digits, 30 s steps, one step either side accepted), the secret sealed at rest, one use per
 * step (a replay within the window is refused), ten recovery codes stored as SHA-256, and the
 * second step's budget (a wrong code counts as a failed login: the same lockout as the password).
 */
import { randomBytes } from "node:crypto";
import { generateSecret, generateURI, verify } from "otplib";
import QRCode from "qrcode";
import { invalid } from "../../platform/errors.ts";
import { sha256 } from "../../platform/security/secrets.ts";
import { wellFormed } from "../../platform/validate.ts";
import type { Identity } from "./deps.ts";
import { countFailedLogin, type IdentityDb, setLastTimeStep, type TwoFactorRow, useRecoveryCode } from "./queries.ts";

const PERIOD_S = 30;
/** Seconds either side of now a code may come from (clock drift, typing time): one step. */
const TOLERANCE_S = 30;
export const RECOVERY_CODE_COUNT = 10;

/** The context a TOTP secret is sealed for: its user (a row copied to another user does not open). */
const secretContext = (userId: string) => `identity.totp-secret:${userId}`;

export interface Enrolment {
  secret: string;
  sealedSecret: string;
  otpauthUri: string;
  /** The URI as an SVG QR code, a data URL. */
  qrCode: string;
}

/** A new secret for the user, sealed for storage, with what an authenticator app scans. */
export async function newEnrolment(id: Identity, user: { id: string; username: string }): Promise<Enrolment> {
  const secret = generateSecret();
  const otpauthUri = generateURI({ issuer: id.opt.twoFactorIssuer, label: user.username, secret });
  const svg = await QRCode.toString(otpauthUri, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return {
    secret,
    sealedSecret: id.sealer.seal(secret, secretContext(user.id)),
    otpauthUri,
    qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`,
  };
}

/** What the user typed: a TOTP code or a recovery code, or a VALIDATION_FAILED naming `field`. */
export type Code = { kind: "totp"; value: string } | { kind: "recovery"; hash: Buffer };

export function parseCode(raw: string, field = "code", allowRecovery = true): Code {
  const v = wellFormed(field, raw).replace(/[\s-]/g, "").toLowerCase();
  if (v === "") throw invalid(field, "is required");
  if (/^\d{6}$/.test(v)) return { kind: "totp", value: v };
  if (allowRecovery && /^[a-z2-7]{16}$/.test(v)) return { kind: "recovery", hash: sha256(v) };
  throw invalid(field, allowRecovery ? "must be a 6-digit code or a recovery code" : "must be a 6-digit code");
}

/**
 * The TOTP step a code was made for, when it is right for the secret at `nowMs` and newer than the
 * last one accepted; otherwise why not.
 */
export async function checkTotp(
  id: Identity,
  row: TwoFactorRow,
  code: string,
  nowMs: number,
): Promise<{ step: number } | { problem: "incorrect" | "reused" }> {
  const secret = id.sealer.open(row.sealed_secret, secretContext(row.user_id));
  // Sealed under another key (identity's signing key was replaced): no code can match any more.
  if (secret === undefined) throw new Error(`two-factor secret of ${row.user_id} does not open with this key`);
  const res = await verify({
    secret,
    token: code,
    epoch: Math.floor(nowMs / 1000),
    period: PERIOD_S,
    epochTolerance: TOLERANCE_S,
  });
  // A TOTP result carries its step (the union type also covers HOTP's, which has none).
  if (!res.valid || !("timeStep" in res)) return { problem: "incorrect" };
  // One use per step: the code of a step already used (or older) is refused, even within its window.
  if (res.timeStep <= Number(row.last_time_step)) return { problem: "reused" };
  return { step: res.timeStep };
}

/** Ten random codes (80 bits each, `xxxx-xxxx-xxxx-xxxx` in base32) and their hashes. */
export function newRecoveryCodes(): { codes: string[]; hashes: Buffer[] } {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = [...randomBytes(16)].map((b) => alphabet[b & 31]).join("");
    return (chars.match(/.{4}/g) as string[]).join("-");
  });
  return { codes, hashes: codes.map((c) => sha256(c.replace(/-/g, ""))) };
}

/** Whether the account is locked at `nowMs` (by passwords or codes: one lockout). */
export function lockedAt(user: { locked_until: Date | null }, nowMs: number): boolean {
  return user.locked_until !== null && user.locked_until.getTime() > nowMs;
}

/** A wrong code: it counts against the account's failed-login budget (the Nth locks it). */
export function countFailedCode(id: Identity, db: IdentityDb, userId: string): Promise<void> {
  return countFailedLogin(db, userId, id.opt.maxFailedLogins, id.opt.lockoutMs, new Date(id.now()));
}

/**
 * Uses `code` on the user's two-factor row (locked by the caller, in `trx`): a TOTP code moves the
 * last accepted step, a recovery code is spent. "ok", or why not (the caller counts the failure
 * after its transaction, so the count survives the refusal).
 */
export async function useCode(
  id: Identity,
  trx: IdentityDb,
  row: TwoFactorRow,
  code: Code,
  nowMs: number,
): Promise<"ok" | "incorrect" | "reused"> {
  if (code.kind === "recovery") {
    return (await useRecoveryCode(trx, row.user_id, code.hash, new Date(nowMs))) ? "ok" : "incorrect";
  }
  const checked = await checkTotp(id, row, code.value, nowMs);
  if ("problem" in checked) return checked.problem;
  await setLastTimeStep(trx, row.user_id, checked.step);
  return "ok";
}

/** The refusal of a code that was not "ok" (after it was counted). */
export function codeRefusal(problem: "incorrect" | "reused" | "locked"): Error {
  if (problem === "locked") return invalid("code", "too many failed attempts; try again later");
  if (problem === "reused") return invalid("code", "has already been used; wait for the next code");
  return invalid("code", "is incorrect");
}
