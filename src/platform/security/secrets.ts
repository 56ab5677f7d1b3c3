/** Opaque secrets (refresh tokens): random, URL-safe, stored only as a SHA-256 hash. */
import { createHash, randomBytes } from "node:crypto";

export function newOpaqueToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
