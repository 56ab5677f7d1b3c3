import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { createMailer } from "../../platform/mail/mailer.ts";
import { createSigner, generateSigningKeyPem } from "../../platform/security/jwt.ts";
import { createSealer } from "../../platform/security/seal.ts";
import { ConfigError } from "../../runtime/config.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { followCounts } from "./consumers.ts";
import { eraseDueAccounts } from "./erasure.ts";
import { mailConsumer } from "./mail.ts";
import { restrictionsConsumer, SESSIONS_REVOKED_CHANNEL } from "./restrictions.ts";
import { createIdentityService, type IdentityTables, type PublicProfile } from "./service.ts";

/** The signing key: JWT_PRIVATE_KEY(_FILE), or in embedded mode one generated once under the data dir. */
async function signingKey(ctx: ModuleContext): Promise<string> {
  if (ctx.config.JWT_PRIVATE_KEY) return ctx.config.JWT_PRIVATE_KEY;
  if (ctx.mode !== "embedded") {
    throw new ConfigError(["JWT_PRIVATE_KEY: required when identity runs distributed (or JWT_PRIVATE_KEY_FILE)"]);
  }
  const dir = join(ctx.config.dataDir, "secrets");
  const file = join(dir, "jwt-ed25519.pem");
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, await generateSigningKeyPem(), { mode: 0o600 });
  }
  return readFileSync(file, "utf8");
}

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const key = await signingKey(ctx);
  const signer = await createSigner(key);
  // The mail tokens' seal key is derived from the signing key (HKDF): no second secret to deploy,
  // and only identity's processes (which sign and mail) can open a sealed token.
  const sealer = createSealer(key, "identity mail tokens v1");
  const profiles = ctx.cache().entity<PublicProfile>("identity", "user", 2);
  const c = ctx.config;
  const db = ctx.db().kysely<IdentityTables>();
  const outbox = ctx.outbox();
  const impl = createIdentityService({
    db,
    signer,
    outbox,
    sealer,
    profiles,
    clock: ctx.clock,
    options: {
      requireVerifiedEmail: c.requireVerifiedEmail,
      mailBudgetPerHour: c.IDENTITY_MAIL_BUDGET_PER_HOUR,
      eraseAfterMs: c.ACCOUNT_ERASE_AFTER_DAYS * 86_400_000,
    },
  });
  if (!c.SMTP_URL && ctx.mode === "distributed") {
    ctx.log.warn("SMTP_URL is not set: identity writes mail into %s instead of sending it", join(c.dataDir, "mail"));
  }
  const mailer = createMailer({
    smtpUrl: c.SMTP_URL,
    folder: join(c.dataDir, "mail"),
    from: c.MAIL_FROM,
    log: ctx.log,
  });
  // Accounts whose deletion is due are erased hourly (erasure.ts); each one's cached profile and
  // sessions are dropped on every replica and gateway.
  const bus = ctx.bus();
  const erase = async () => {
    try {
      const ids = await eraseDueAccounts(db.writer, outbox, ctx.clock(), async (userId) => {
        await profiles.invalidate([userId]);
        await bus?.publish(SESSIONS_REVOKED_CHANNEL, userId);
      });
      if (ids.length) ctx.log.info({ erased: ids.length }, "erased accounts");
    } catch (err) {
      ctx.log.warn({ err }, "account erasure failed; will retry");
    }
  };
  const timer = setInterval(erase, 3_600_000);
  timer.unref();
  return {
    services: [{ service: IdentityService, impl }],
    consumers: [
      followCounts((ids) => profiles.invalidate(ids)),
      mailConsumer({ mailer, sealer, publicUrl: c.PUBLIC_URL, log: ctx.log }),
      restrictionsConsumer(bus, (ids) => profiles.invalidate(ids)),
    ],
    stop: async () => {
      clearInterval(timer);
      await mailer.close();
    },
  };
}
