/**
 * Sealed values: AES-256-GCM with a key derived (HKDF-SHA256) from a secret the
 * process already holds, for a value that must travel through the outbox and
 * Kafka but be readable only where the key is (a mail's one-time token). The
 * sealed form is `v1.<iv>.<ciphertext+tag>` in base64url; the context string
 * is bound as associated data, so a value sealed for one purpose or aggregate
 * does not open for another.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export interface Sealer {
  seal(plain: string, context: string): string;
  /** The plain text, or undefined when the value is forged, damaged or sealed for another context. */
  open(sealed: string, context: string): string | undefined;
}

export function createSealer(secret: string | Buffer, info: string): Sealer {
  const key = Buffer.from(hkdfSync("sha256", secret, "nova-seal", info, 32));
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `v1.${iv.toString("base64url")}.${body.toString("base64url")}`;
    },
    open(sealed, context) {
      const [v, ivText, bodyText] = sealed.split(".");
      if (v !== "v1" || !ivText || !bodyText) return undefined;
      const iv = Buffer.from(ivText, "base64url");
      const body = Buffer.from(bodyText, "base64url");
      if (iv.length !== 12 || body.length < 16) return undefined;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv);
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(body.subarray(body.length - 16));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString("utf8");
      } catch {
        return undefined;
      }
    },
  };
}
