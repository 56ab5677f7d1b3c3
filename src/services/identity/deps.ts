/** What the identity service is built from, and the options it runs with. */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Outbox } from "../../platform/events/outbox.ts";
import type { Signer } from "../../platform/security/jwt.ts";
import { createSealer, type Sealer } from "../../platform/security/seal.ts";
import type { IdentityTables, PublicProfile } from "./queries.ts";

export interface IdentityOptions {
  maxFailedLogins: number;
  lockoutMs: number;
  refreshTtlMs: number;
  sessionMaxMs: number;
  /** Until the address is verified the user may sign in but not post, comment or message; `register` opens no session. */
  requireVerifiedEmail: boolean;
  /** Verification and reset mails per user per hour (further requests are answered the same and send nothing). */
  mailBudgetPerHour: number;
  verifyTokenTtlMs: number;
  resetTokenTtlMs: number;
  /** How long the second step of a sign-in with two-factor on may wait for its code. */
  twoFactorChallengeTtlMs: number;
  /** The issuer authenticator apps show beside the account (the otpauth:// URI's). */
  twoFactorIssuer: string;
  /** Time between two changes of one user's username. */
  usernameCooldownMs: number;
  /** How long a name given up stays its old owner's (others are told it is taken). */
  usernameReservationMs: number;
  /** How long the link confirming a new address works. */
  emailChangeTokenTtlMs: number;
  /** The grace period between a deletion request and the account's erasure (ACCOUNT_ERASE_AFTER_DAYS). */
  eraseAfterMs: number;
}

export const IDENTITY_DEFAULTS: IdentityOptions = {
  maxFailedLogins: 5,
  lockoutMs: 15 * 60_000,
  refreshTtlMs: 30 * 24 * 3_600_000,
  sessionMaxMs: 90 * 24 * 3_600_000,
  requireVerifiedEmail: false,
  mailBudgetPerHour: 3,
  verifyTokenTtlMs: 24 * 3_600_000,
  resetTokenTtlMs: 30 * 60_000,
  twoFactorChallengeTtlMs: 5 * 60_000,
  twoFactorIssuer: "Nova",
  usernameCooldownMs: 30 * 24 * 3_600_000,
  usernameReservationMs: 30 * 24 * 3_600_000,
  emailChangeTokenTtlMs: 24 * 3_600_000,
  eraseAfterMs: 30 * 24 * 3_600_000,
};

export const MAX_BATCH = 100;

/** Public profiles by id, through the two-tier cache (identity:user). */
export interface ProfileCache {
  getMany(
    ids: readonly string[],
    loader: (missing: string[]) => Promise<Map<string, PublicProfile>>,
  ): Promise<Map<string, PublicProfile>>;
  /** After a commit that changed these users' profiles. */
  invalidate(ids: readonly string[]): Promise<void>;
}

export interface IdentityDeps {
  db: { writer: Kysely<IdentityTables>; reader: Kysely<IdentityTables> };
  signer: Signer;
  /** Writes UserRegistered / ProfileUpdated in the same transaction as the change. */
  outbox: Outbox;
  /**
   * Seals the one-time tokens that mail events carry (only identity holds its key; module.ts
   * derives it from the signing key). Default: a key of this process only (tests).
   */
  sealer?: Sealer;
  options?: Partial<IdentityOptions>;
  profiles?: ProfileCache;
  /** The wall clock in ms for TOTP windows, challenges and lockouts (tests move it). Default Date.now. */
  clock?: () => number;
}

/** What every handler is built from: the deps with the options filled in. */
export interface Identity {
  writer: Kysely<IdentityTables>;
  reader: Kysely<IdentityTables>;
  signer: Signer;
  outbox: Outbox;
  sealer: Sealer;
  profiles: ProfileCache | undefined;
  opt: IdentityOptions;
  now: () => number;
}

export function identityOf(deps: IdentityDeps): Identity {
  return {
    writer: deps.db.writer,
    reader: deps.db.reader,
    signer: deps.signer,
    outbox: deps.outbox,
    sealer: deps.sealer ?? createSealer(randomBytes(32), "identity mail tokens"),
    profiles: deps.profiles,
    opt: { ...IDENTITY_DEFAULTS, ...deps.options },
    now: deps.clock ?? Date.now,
  };
}
