/** Password hashing with argon2id (OWASP parameters: m=19 MiB, t=2, p=1). */
import argon2 from "argon2";

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Spends the same work as a real verification, for an account that does not
 * exist, so the answer takes the same time either way.
 */
export async function burnVerify(password: string): Promise<false> {
  dummy ??= hashPassword("nova-dummy-password-for-timing");
  await verifyPassword(await dummy, password);
  return false;
}
