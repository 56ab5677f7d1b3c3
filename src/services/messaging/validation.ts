/**
 * Input rules of the messaging service. Each validator returns the normalized
 * value or throws a VALIDATION_FAILED error that names the field.
 */
import { createPublicKey } from "node:crypto";
import { invalid } from "../../platform/errors.ts";
import { type AttachmentInput, attachments, text } from "../../platform/validate.ts";

export const LIMITS = {
  /** Members of a group, its creator included. */
  groupMembersMax: 50,
  textMax: 4_000,
  ciphertextMax: 16_384,
  clientMessageIdMax: 64,
  batchMax: 100,
} as const;

// Printable ASCII without space: UUIDs, ULIDs, counters, base64url nonces.
const CLIENT_MESSAGE_ID = /^[\x21-\x7e]{1,64}$/;

/**
 * A plaintext message: 1 to 4,000 characters after NFC and trimming, no control characters (empty
 * when it carries media).
 */
export function validateText(value: string, field = "text", optional = false): string {
  return text(field, value, { max: LIMITS.textMax, multiline: true, optional });
}

/** Up to 10 distinct media ids with alt texts of at most 1,500 characters. */
export const validateAttachments = (items: readonly AttachmentInput[]) => attachments(items, "message");

export function validateClientMessageId(value: string, field = "clientMessageId"): string {
  if (!CLIENT_MESSAGE_ID.test(value)) {
    throw invalid(field, `must be 1 to ${LIMITS.clientMessageIdMax} printable ASCII characters without spaces`);
  }
  return value;
}

export function validateCiphertext(value: Uint8Array, field = "ciphertext"): Uint8Array {
  if (value.length === 0) throw invalid(field, "is required");
  if (value.length > LIMITS.ciphertextMax) throw invalid(field, `must be at most ${LIMITS.ciphertextMax} bytes`);
  return value;
}

/**
 * A public key: the standard base64 (padding optional) of a raw 32-byte
 * X25519 key, which node:crypto must accept as an X25519 key. The all-zero
 * key (a low-order point: every shared secret with it is zero) is refused.
 */
export function validatePublicKey(value: string, field = "publicKey"): Buffer {
  const v = value.trim();
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(v)) throw invalid(field, "must be the base64 of a 32-byte X25519 public key");
  const raw = Buffer.from(v, "base64");
  if (raw.length !== 32) throw invalid(field, "must be the base64 of a 32-byte X25519 public key");
  if (raw.every((b) => b === 0)) throw invalid(field, "is not a usable X25519 key");
  try {
    createPublicKey({ key: { kty: "OKP", crv: "X25519", x: raw.toString("base64url") }, format: "jwk" });
  } catch {
    throw invalid(field, "is not an X25519 public key");
  }
  return raw;
}
