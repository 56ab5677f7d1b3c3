import { Redis } from "ioredis";
import { createVerifier } from "../platform/security/jwt.ts";
import type { Config } from "../runtime/config.ts";
import type { ModuleContext, ModuleInstance } from "../runtime/module.ts";
import { openMediaStore } from "../services/media/store.ts";
import { createBackendClients } from "./backends.ts";
import { securityOptions } from "./security.ts";
import { buildGateway } from "./server.ts";

/** Where browsers read media from and PUT uploads to when that is not the gateway (the web client's CSP). */
function mediaOrigins(config: Config): string[] {
  const out = new Set<string>();
  if (config.mediaPublicBaseUrl) out.add(new URL(config.mediaPublicBaseUrl).origin);
  const s3 = config.s3;
  if (s3?.endpoint) {
    const endpoint = new URL(s3.endpoint);
    out.add(s3.forcePathStyle ? endpoint.origin : `${endpoint.protocol}//${s3.bucket}.${endpoint.host}`);
  } else if (s3) {
    out.add(`https://${s3.bucket}.s3.${s3.region}.amazonaws.com`);
  }
  return [...out];
}

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const clients = createBackendClients((service) => ctx.client(service));
  const identity = clients.identity;
  const verify = createVerifier(async () => JSON.parse((await identity.getJwks({})).jwksJson));
  // Rate limits and Idempotency-Keys are shared through Redis when there is one (in-process otherwise).
  const redis = ctx.config.REDIS_URL
    ? new Redis(ctx.config.REDIS_URL, { commandTimeout: 500, maxRetriesPerRequest: 1, lazyConnect: false })
    : undefined;
  redis?.on("error", (err) => ctx.log.debug({ err }, "gateway redis error"));
  const mediaStore = openMediaStore(ctx.config);
  const app = await buildGateway({
    log: ctx.log,
    production: ctx.config.production,
    batching: ctx.config.GATEWAY_DATALOADER !== "false",
    requestTimeoutMs: ctx.config.REQUEST_TIMEOUT_MS,
    ...clients,
    verify,
    security: securityOptions(ctx.config),
    redis,
    bus: ctx.bus(),
    // The fs store takes no direct uploads and has no URLs of its own: the gateway's routes do both.
    mediaStore: mediaStore.kind === "fs" ? mediaStore : undefined,
    // The upload route takes the larger of the two limits; createUpload holds each kind to its own.
    mediaMaxBytes: Math.max(ctx.config.MEDIA_MAX_BYTES, ctx.config.MEDIA_VIDEO_MAX_BYTES),
    web: { mediaOrigins: mediaOrigins(ctx.config) },
  });
  const address = await app.listen({ host: ctx.config.HOST, port: ctx.config.PORT });
  ctx.log.info({ url: `${address}/graphql` }, "GraphQL gateway listening");
  return {
    address,
    ready: async () => true,
    async stop(graceMs) {
      // Stop accepting, let in-flight requests finish, then cut what is left.
      const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
      await app.close();
      clearTimeout(timer);
      redis?.disconnect();
    },
  };
}
