/**
 * The GraphQL gateway: Fastify + Mercurius (graphql-jit). It authenticates
 * the bearer token, sets the request's deadline and trace, and resolves
 * fields through the services' generated clients.
 */
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { type Context, context, type Span, SpanKind, trace } from "@opentelemetry/api";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import mercurius from "mercurius";
import { NovaError } from "../platform/errors.ts";
import { counter, histogram } from "../platform/observability/metrics.ts";
import { extractTrace, tracer } from "../platform/observability/tracing.ts";
import type { Bus } from "../platform/pubsub/bus.ts";
import { type CallContext, roleClaims, runWithCall, type UserClaims } from "../platform/rpc/context.ts";
import type { FsBlobStore } from "../platform/storage/fs.ts";
import { SESSIONS_REVOKED_CHANNEL } from "../services/identity/restrictions.ts";
import { STANDING_CHANNEL } from "../services/moderation/events.ts";
import { guardBackends } from "./backends.ts";
import type { GatewayContext, GatewayDeps } from "./context.ts";
import { createErrorFormatter } from "./errors.ts";
import { createLoaders } from "./loaders.ts";
import { MailLimits } from "./mail-limits.ts";
import { registerMediaRoutes } from "./media/routes.ts";
import { type Protections, registerProtections } from "./protections.ts";
import type { RateLimits } from "./ratelimit.ts";
import { installSubscriptions } from "./realtime/resolvers.ts";
import { attachSubscriptions } from "./realtime/subscriptions.ts";
import { resolvers } from "./resolvers.ts";
import { scalarResolvers } from "./scalars.ts";
import { defaultSecurity, type SecurityOptions } from "./security.ts";
import { registerWeb } from "./web.ts";

export const schema = readFileSync(new URL("./schema.graphql", import.meta.url), "utf8");

export const BODY_LIMIT = 1_048_576;

export const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

declare module "mercurius" {
  interface MercuriusContext extends GatewayContext {}
}

declare module "fastify" {
  interface FastifyRequest {
    novaSpan?: Span;
    novaTrace?: Context;
    novaCall?: CallContext;
  }
}

const httpRequests = counter("nova_http_requests_total", "HTTP requests", ["route", "status"]);
const httpSeconds = histogram("nova_http_request_seconds", "HTTP request latency", ["route"]);

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Runs `fn` inside a request's trace and call scope (deadline, claims, budget). */
type Run = <T>(req: FastifyRequest, fn: () => Promise<T>) => Promise<T>;

const run: Run = (req, fn) =>
  context.with(req.novaTrace ?? context.active(), () => runWithCall(req.novaCall ?? {}, fn));

/** Each request gets a server span (continuing the caller's trace) and its deadline; its end is counted. */
function traceRequests(app: FastifyInstance, requestTimeoutMs: number): void {
  app.addHook("onRequest", async (req) => {
    const parent = extractTrace((k) => header(req.headers, k));
    const span = tracer().startSpan(
      `${req.method} ${req.routeOptions.url ?? req.url}`,
      { kind: SpanKind.SERVER },
      parent,
    );
    req.novaSpan = span;
    req.novaTrace = trace.setSpan(parent, span);
    req.novaCall = { deadline: Date.now() + requestTimeoutMs };
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unknown";
    httpRequests.inc({ route, status: String(reply.statusCode) });
    httpSeconds.observe({ route }, reply.elapsedTime / 1000);
    req.novaSpan?.setAttribute("http.response.status_code", reply.statusCode);
    req.novaSpan?.end();
  });
}

interface Sessions {
  /** The claims of an access token whose session is still active (shared by HTTP and WebSocket). */
  authenticate(token: string, within: <T>(fn: () => Promise<T>) => Promise<T>): Promise<UserClaims>;
  /** Drops the cached state of a user's sessions (one, or all of them). */
  forget(userId: string, sessionId?: string): void;
  /** Identity revoked every session of the user (a suspension): forget them and re-ask for a while. */
  revoked(userId: string): void;
  /** Moderation announced the account suspended or banned (refuse its tokens now) or reinstated. */
  standing(userId: string, restricted: boolean): void;
}

function createSessions(deps: GatewayDeps): Sessions {
  // Session revocation is checked (and briefly cached) on every authenticated request.
  const sessions = new LRUCache<string, { active: boolean; userId: string }>({
    max: 100_000,
    ttl: deps.sessionCacheMs ?? 5_000,
  });
  // Users whose sessions identity announced revoked: asked afresh, never from the cache, for one cache
  // lifetime, so an answer identity read just before its revocation committed is not kept.
  const uncached = new LRUCache<string, true>({ max: 100_000, ttl: deps.sessionCacheMs ?? 5_000 });
  // Accounts moderation announced suspended or banned: refused at once, until identity's revocation
  // (applied from the log) ends their sessions for good, or a lift is announced.
  const restricted = new LRUCache<string, true>({ max: 100_000, ttl: 120_000 });
  return {
    async authenticate(token, within) {
      let claims: { sub: string; sid: string; roles: string[]; unverified?: true };
      try {
        claims = await deps.verify(token);
      } catch {
        throw new NovaError("TOKEN_INVALID", "access token is invalid or expired");
      }
      if (restricted.has(claims.sub)) throw new NovaError("TOKEN_INVALID", "this account is suspended");
      const fresh = uncached.has(claims.sub);
      let state = fresh ? undefined : sessions.get(claims.sid);
      if (!state) {
        const res = await within(() => deps.identity.checkSession({ sessionId: claims.sid }));
        state = { active: res.active, userId: claims.sub };
        if (!fresh) sessions.set(claims.sid, state);
      }
      if (!state.active) throw new NovaError("TOKEN_INVALID", "session has ended");
      const user: { userId: string; sessionId: string; admin?: boolean; moderator?: boolean; unverified?: boolean } = {
        userId: claims.sub,
        sessionId: claims.sid,
        ...roleClaims(claims.roles),
      };
      if (claims.unverified) user.unverified = true;
      return user;
    },
    revoked(userId) {
      uncached.set(userId, true);
      this.forget(userId);
    },
    standing(userId, isRestricted) {
      if (isRestricted) restricted.set(userId, true);
      else restricted.delete(userId);
    },
    forget(userId, sessionId) {
      if (sessionId) sessions.delete(sessionId);
      for (const [sid, s] of sessions.entries()) if (s.userId === userId) sessions.delete(sid);
    },
  };
}

/** A bearer token on /graphql sets the request's viewer; a bad one is a 401 before any operation runs. */
function authenticateBearer(app: FastifyInstance, sessions: Sessions): void {
  app.addHook("preHandler", async (req, reply) => {
    const auth = req.headers.authorization;
    if (!auth || req.routeOptions.url !== "/graphql") return;
    const m = BEARER.exec(auth);
    const deny = (code: string, message: string) =>
      reply
        .code(401)
        .header("www-authenticate", `Bearer error="invalid_token"`)
        .send({ data: null, errors: [{ message, extensions: { code } }] });
    if (!m) return deny("UNAUTHENTICATED", "Authorization must be `Bearer <access token>`");
    try {
      (req.novaCall as CallContext).user = await sessions.authenticate(m[1] as string, (fn) => run(req, fn));
    } catch (err) {
      if (err instanceof NovaError && err.code === "TOKEN_INVALID") return deny(err.code, err.message);
      throw err;
    }
  });
}

/** A failure outside GraphQL (a parser's, a plugin's) in the gateway's error shape; a 5xx says no more than that. */
function sendFailure(
  err: { statusCode?: number; code?: string; message: string },
  req: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status === 500) req.log.error({ err }, "request failed");
  const code = status === 413 ? "PAYLOAD_TOO_LARGE" : status === 500 ? "INTERNAL" : (err.code ?? "BAD_REQUEST");
  reply.code(status).send({
    data: null,
    errors: [{ message: status === 500 ? "internal error" : err.message, extensions: { code } }],
  });
}

/** Mercurius over the schema and the resolvers, with one GatewayContext (and its DataLoaders) per request. */
async function registerGraphQL(
  app: FastifyInstance,
  deps: GatewayDeps,
  security: SecurityOptions,
  sessions: Sessions,
): Promise<void> {
  const mailLimits = new MailLimits(security.mailRate ?? { perAddress: 5, perIp: 30, signUp: false }, deps.redis);
  await app.register(mercurius, {
    schema,
    resolvers,
    jit: 1,
    graphiql: !deps.production,
    errorFormatter: createErrorFormatter({ production: deps.production }),
    allowBatchedQueries: security.limits.maxBatch > 0,
    graphql: { parseOptions: { maxTokens: security.limits.maxTokens } },
    context: (req): GatewayContext => ({
      deps,
      user: req.novaCall?.user,
      call: (fn) => run(req, fn),
      loaders: createLoaders(deps, (fn) => run(req, fn)),
      forgetSessions: sessions.forget,
      ip: req.ip,
      userAgent: req.headers["user-agent"],
      mailLimits,
    }),
  });
  // The custom scalars' rules (scalars.ts), for those schema.graphql declares.
  app.graphql.defineResolvers(
    Object.fromEntries(Object.entries(scalarResolvers).filter(([name]) => app.graphql.schema.getType(name))),
  );
}

/** GraphQL subscriptions over WebSocket on the same path, under the same protections (only with a bus). */
function registerSubscriptions(
  app: FastifyInstance,
  deps: GatewayDeps,
  bus: Bus,
  security: SecurityOptions,
  sessions: Sessions,
  protections: Protections,
): void {
  installSubscriptions(app.graphql.schema);
  const closeSubscriptions = attachSubscriptions({
    app,
    deps,
    protections,
    bus,
    limits: security.realtime,
    path: "/graphql",
    log: deps.log,
    origins: security.corsOrigins,
    trustProxy: security.trustProxy,
    authenticate: (token) =>
      sessions.authenticate(token, (fn) => runWithCall({ deadline: Date.now() + deps.requestTimeoutMs }, fn)),
  });
  app.addHook("preClose", closeSubscriptions);
}

/** Liveness, readiness (identity answers) and the public keys that verify access tokens. */
function registerHealth(app: FastifyInstance, deps: GatewayDeps): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    try {
      await deps.identity.getJwks({}, { timeoutMs: 1_000 });
      return { ok: true };
    } catch {
      return reply.code(503).send({ ok: false });
    }
  });
  app.get("/.well-known/jwks.json", async (req) => {
    const res = await run(req, () => deps.identity.getJwks({}));
    return JSON.parse(res.jwksJson);
  });
}

export async function buildGateway(given: GatewayDeps): Promise<FastifyInstance> {
  const security = given.security ?? defaultSecurity(given.production);
  // Every RPC spends from the request's call budget and holds a slot of its backend's limiter.
  const deps: GatewayDeps = { ...given, ...guardBackends(given, security.backendConcurrency, security.backendQueue) };
  const app: FastifyInstance = Fastify({
    // Fastify's own per-request lines are left out; the gateway logs what matters itself.
    loggerInstance: deps.log.child({}, { level: "warn" }) as FastifyBaseLogger,
    bodyLimit: security.bodyLimit,
    // A hop count is valid at runtime (Fastify's docs) though its types leave it out.
    trustProxy: security.trustProxy as boolean | string,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  const sessions = createSessions(deps);

  traceRequests(app, deps.requestTimeoutMs);
  authenticateBearer(app, sessions);
  app.setErrorHandler(sendFailure);
  const protections = await registerProtections(app, {
    security,
    requestTimeoutMs: deps.requestTimeoutMs,
    log: deps.log,
    redis: deps.redis,
    graphiql: !deps.production,
    schema: () => app.graphql.schema,
  });
  await registerGraphQL(app, deps, security, sessions);
  if (deps.bus) registerSubscriptions(app, deps, deps.bus, security, sessions, protections);
  if (deps.bus) await listenForRevocations(app, deps.bus, sessions);
  registerHealth(app, deps);
  if (deps.mediaStore) await registerMedia(app, deps, deps.mediaStore, sessions, protections.rates);
  if (deps.web && !registerWeb(app, deps.web))
    deps.log.warn("web client not built: `npm run build:web` (or `npm start`)");
  return app;
}

/** Every gateway replica hears on the bus that a user's sessions were revoked and drops its cached state. */
async function listenForRevocations(app: FastifyInstance, bus: Bus, sessions: Sessions): Promise<void> {
  const unsubscribe = [
    await bus.subscribe(SESSIONS_REVOKED_CHANNEL, (userId) => sessions.revoked(userId)),
    await bus.subscribe(STANDING_CHANNEL, (message) => {
      const m = parseStanding(message);
      if (m) sessions.standing(m.userId, m.restricted);
    }),
  ];
  app.addHook("onClose", async () => {
    for (const u of unsubscribe) u();
  });
}

function parseStanding(message: string): { userId: string; restricted: boolean } | undefined {
  try {
    const m = JSON.parse(message) as { userId?: unknown; restricted?: unknown };
    return typeof m.userId === "string" && typeof m.restricted === "boolean"
      ? { userId: m.userId, restricted: m.restricted }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The upload and file routes of a media store that cannot take uploads or serve files itself (media/routes.ts). */
function registerMedia(
  app: FastifyInstance,
  deps: GatewayDeps,
  store: FsBlobStore,
  sessions: Sessions,
  rates: RateLimits,
): Promise<void> {
  return registerMediaRoutes(app, {
    store,
    spendUpload: (req, userId) => rates.consume("upload", { userId, ip: req.ip }),
    maxBytes: deps.mediaMaxBytes ?? 20 * 1024 * 1024,
    media: deps.media,
    run,
    async authenticate(req) {
      const m = BEARER.exec(req.headers.authorization ?? "");
      if (!m) throw new NovaError("UNAUTHENTICATED", "Authorization must be `Bearer <access token>`");
      const user = await sessions.authenticate(m[1] as string, (fn) => run(req, fn));
      (req.novaCall as CallContext).user = user;
      return user.userId;
    },
  });
}
