/**
 * Access tokens: EdDSA (Ed25519) JWTs following RFC 8725 and RFC 9068 — the
 * algorithm is pinned, and iss, aud, typ and jti are checked on verify. The
 * signer holds the private key; verifiers only need the public JWK Set.
 */
import { randomUUID } from "node:crypto";
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
} from "jose";
import { LRUCache } from "lru-cache";

export const ACCESS_TOKEN = {
  alg: "EdDSA",
  typ: "at+jwt",
  issuer: "nova",
  audience: "nova-api",
  ttlSeconds: 15 * 60,
} as const;

export interface AccessClaims {
  sub: string;
  sid: string;
  jti: string;
  /** Granted roles (e.g. "admin"); absent for an ordinary user. */
  roles: string[];
  /** The token says `email_verified: false` (OIDC's claim): the user may sign in but not write yet. */
  unverified?: true;
}

export async function generateSigningKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPair(ACCESS_TOKEN.alg, { crv: "Ed25519", extractable: true });
  return exportPKCS8(privateKey);
}

export interface Signer {
  /** `unverified` adds `email_verified: false` (absent: verified, or verification not required). */
  sign(sub: string, sid: string, now?: number, roles?: readonly string[], unverified?: boolean): Promise<string>;
  jwks(): JSONWebKeySet;
}

export async function createSigner(privateKeyPem: string): Promise<Signer> {
  const privateKey = await importPKCS8(privateKeyPem, ACCESS_TOKEN.alg, { extractable: true });
  const full = await exportJWK(privateKey);
  const pub: JWK = { kty: full.kty, crv: full.crv, x: full.x };
  const kid = await calculateJwkThumbprint(pub);
  const jwk: JWK = { ...pub, kid, alg: ACCESS_TOKEN.alg, use: "sig" };
  return {
    async sign(sub, sid, now = Math.floor(Date.now() / 1000), roles = [], unverified = false) {
      const claims: Record<string, unknown> = roles.length ? { sid, roles: [...roles] } : { sid };
      if (unverified) claims.email_verified = false;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: ACCESS_TOKEN.alg, typ: ACCESS_TOKEN.typ, kid })
        .setSubject(sub)
        .setIssuer(ACCESS_TOKEN.issuer)
        .setAudience(ACCESS_TOKEN.audience)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + ACCESS_TOKEN.ttlSeconds)
        .sign(privateKey);
    },
    jwks: () => ({ keys: [jwk] }),
  };
}

export type Verifier = (token: string) => Promise<AccessClaims>;

/**
 * Verifies with a JWK Set that is fetched lazily and refetched (rate-limited) when a kid is unknown.
 * A token that verified is remembered until its `exp` (at most `cacheMax` tokens), so a client's
 * repeated requests pay for one signature check; revocation is the session check's job, as before.
 */
export function createVerifier(
  fetchJwks: () => Promise<JSONWebKeySet>,
  refetchAfterMs = 30_000,
  cacheMax = 50_000,
): Verifier {
  const verified = new LRUCache<string, AccessClaims>({ max: cacheMax });
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  const load = async () => {
    keySet = createLocalJWKSet(await fetchJwks());
    fetchedAt = Date.now();
  };
  const verifyOnce = async (token: string) => {
    if (!keySet) await load();
    const { payload } = await jwtVerify(token, keySet as ReturnType<typeof createLocalJWKSet>, {
      algorithms: [ACCESS_TOKEN.alg],
      issuer: ACCESS_TOKEN.issuer,
      audience: ACCESS_TOKEN.audience,
      typ: ACCESS_TOKEN.typ,
      requiredClaims: ["sub", "sid", "jti", "exp", "iat"],
    });
    if (typeof payload.sid !== "string" || typeof payload.sub !== "string" || typeof payload.jti !== "string") {
      throw new Error("malformed claims");
    }
    const roles = payload.roles === undefined ? [] : payload.roles;
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === "string")) throw new Error("malformed roles claim");
    const claims: AccessClaims = { sub: payload.sub, sid: payload.sid, jti: payload.jti, roles };
    if (payload.email_verified === false) claims.unverified = true;
    const ttl = (payload.exp as number) * 1000 - Date.now();
    if (ttl > 0) verified.set(token, claims, { ttl });
    return claims;
  };
  return async (token) => {
    const hit = verified.get(token);
    if (hit) return hit;
    try {
      return await verifyOnce(token);
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_JWKS_NO_MATCHING_KEY" && Date.now() - fetchedAt > refetchAfterMs) {
        await load();
        return verifyOnce(token);
      }
      throw err;
    }
  };
}
