import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { createSigner, generateSigningKeyPem } from "../../platform/security/jwt.ts";
import { ConfigError } from "../../runtime/config.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { followCounts } from "./consumers.ts";
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
  const signer = await createSigner(await signingKey(ctx));
  const profiles = ctx.cache().entity<PublicProfile>("identity", "user", 1);
  const impl = createIdentityService({
    db: ctx.db().kysely<IdentityTables>(),
    signer,
    outbox: ctx.outbox(),
    profiles,
  });
  return {
    services: [{ service: IdentityService, impl }],
    consumers: [followCounts((ids) => profiles.invalidate(ids))],
  };
}
