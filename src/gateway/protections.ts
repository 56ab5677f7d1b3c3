/**
 * The gateway's HTTP protections (ARCHITECTURE §7), in the order a request meets them:
 *
 *   onRequest   security headers (@fastify/helmet, tuned for an API;
 *               `Cache-Control: no-store` on /graphql, whose answers carry
 *               tokens and viewer state); CORS (allow-list); load shedding (@fastify/under-pressure:
 *               event-loop delay, heap -> 503 + Retry-After); content type
 *               of POST /graphql (application/json or
 *               application/graphql-response+json, else 415)
 *   parsing     body limit (413)
 *   preHandler  (after authentication) batch rule; persisted operation /
 *               allow-list; tokens, depth, aliases, directives, cost,
 *               introspection; scalar literals; mutations never over GET
 *               (405); rate limits per user and IP (429); call budget;
 *               Idempotency-Key (replay, 422, 409)
 *   onSend      the response of a claimed Idempotency-Key is stored
 *
 * A refusal is `{ data: null, errors: [{ message, extensions: { code, field } }] }`
 * with the catalogue's HTTP status.
 */
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";
import underPressure from "@fastify/under-pressure";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { DocumentNode, GraphQLSchema } from "graphql";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { catalogue, invalid, NovaError } from "../platform/errors.ts";
import { counter } from "../platform/observability/metrics.ts";
import { attachBudget } from "./budget.ts";
import { type Claim, checkKey, Idempotency, MemoryIdempotencyStore, RedisIdempotencyStore } from "./idempotency.ts";
import { checkOperation, type OperationStats, parseBounded, selectOperation } from "./limits.ts";
import { loadManifest, type Manifest, PersistedOperations } from "./persisted.ts";
import { type RateDecision, RateLimits } from "./ratelimit.ts";
import { checkScalarLiterals, checkVariableText } from "./scalars.ts";
import type { SecurityOptions } from "./security.ts";

export const GRAPHQL_PATH = "/graphql";
export const SHED_RETRY_AFTER_S = 5;
const JSON_TYPES = new Set(["application/json", "application/graphql-response+json"]);

const refusals = counter("nova_gateway_refused_total", "Requests refused at the gateway's edges", ["code"]);

declare module "fastify" {
  interface FastifyRequest {
    novaIdempotency?: Extract<Claim, { kind: "claimed" }>;
  }
}

export interface ProtectionOptions {
  security: SecurityOptions;
  requestTimeoutMs: number;
  log: Logger;
  /** Shared state (rate limits, idempotency keys) across replicas; without it, in-process. */
  redis?: Redis;
  manifest?: Manifest;
  /** GraphiQL is served (development): its page loads scripts, so no CSP. */
  graphiql: boolean;
  schema(): GraphQLSchema;
}

export function refuse(reply: FastifyReply, err: NovaError, headers: Record<string, string | number> = {}) {
  refusals.inc({ code: err.def.graphql });
  const extensions: Record<string, unknown> = { code: err.def.graphql };
  if (err.field) extensions.field = err.field;
  return reply
    .code(err.def.http)
    .headers(headers)
    .send({ data: null, errors: [{ message: err.message, extensions }] });
}

export interface OperationBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

/** GET carries variables and extensions as JSON strings in the query string. */
function getBody(q: Record<string, unknown>): OperationBody {
  const json = (name: string) => {
    const v = q[name];
    if (v === undefined || v === "") return undefined;
    if (typeof v !== "string") throw invalid(name, "must be given once");
    try {
      return JSON.parse(v) as unknown;
    } catch {
      throw invalid(name, "is not valid JSON");
    }
  };
  return {
    query: q.query,
    operationName: q.operationName,
    variables: json("variables"),
    extensions: json("extensions"),
  };
}

/** What the protections offer the WebSocket transport: the same operation checks and rate limits as HTTP. */
export interface Protections {
  /** Resolves (persisted/APQ), parses and checks an operation against every limit; throws a NovaError. */
  analyse(op: OperationBody): { stats: OperationStats; document: DocumentNode };
  rates: RateLimits;
}

/** Security headers for an API, and no cache may keep a /graphql answer. */
async function registerHeaders(app: FastifyInstance, graphiql: boolean): Promise<void> {
  await app.register(helmet, {
    // An API answers JSON: nothing may load, frame or run from it. GraphiQL (development only) loads
    // its scripts from a CDN, so development leaves CSP out and keeps the rest.
    contentSecurityPolicy: graphiql
      ? false
      : { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: "deny" },
    // Browsers ignore HSTS over plain HTTP (a loopback `nova start`); behind TLS it holds.
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  });
  app.addHook("onRequest", async (req, reply) => {
    // Tokens, sessions and a viewer's private state: no shared or browser cache may keep an answer.
    if (req.routeOptions.url === GRAPHQL_PATH) reply.header("cache-control", "no-store");
  });
}

async function registerCors(app: FastifyInstance, security: SecurityOptions): Promise<void> {
  await app.register(cors, {
    origin: security.corsOrigins.includes("*") ? true : security.corsOrigins.length ? security.corsOrigins : false,
    methods: ["GET", "POST"],
    allowedHeaders: ["content-type", "authorization", "idempotency-key", "traceparent", "tracestate"],
    exposedHeaders: [
      "retry-after",
      "ratelimit-limit",
      "ratelimit-remaining",
      "ratelimit-reset",
      "ratelimit-policy",
      "idempotent-replayed",
    ],
    maxAge: 600,
  });
}

/** Load shedding: a blocked event loop or a full heap answers /graphql with 503 + Retry-After. */
async function registerShedding(app: FastifyInstance, security: SecurityOptions, log: Logger): Promise<void> {
  await app.register(underPressure, {
    maxEventLoopDelay: security.maxEventLoopDelayMs,
    maxHeapUsedBytes: security.maxHeapUsedBytes,
    // Sampled each second: a loop blocked for a whole sample counts as infinitely delayed (the plugin's rule).
    sampleInterval: 1_000,
    retryAfter: SHED_RETRY_AFTER_S,
    // Only the API is shed: health, readiness and metrics keep answering.
    // A returned value is sent as the body (the plugin's contract; its types say void).
    pressureHandler: ((req: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => {
      if (req.routeOptions.url !== GRAPHQL_PATH) return undefined;
      refusals.inc({ code: catalogue.OVERLOADED.graphql });
      log.warn({ type, value: String(value) }, "shedding load");
      reply.code(503).header("retry-after", SHED_RETRY_AFTER_S);
      return {
        data: null,
        errors: [{ message: catalogue.OVERLOADED.message, extensions: { code: catalogue.OVERLOADED.graphql } }],
      };
    }) as never,
  });
}

/** The methods and media types /graphql accepts. */
function registerRequestRules(app: FastifyInstance, security: SecurityOptions): void {
  // The JSON parser for the GraphQL-over-HTTP media type as a request body.
  app.addContentTypeParser(
    "application/graphql-response+json",
    { parseAs: "string", bodyLimit: security.bodyLimit },
    app.getDefaultJsonParser("error", "error"),
  );

  // /graphql runs operations over GET and POST only. Every other method (HEAD, which Fastify
  // answers on every GET route, PUT, PATCH, DELETE, ...) is refused here, before any handler:
  // fail closed, so no method can reach Mercurius past the checks below.
  app.addHook("onRequest", async (req, reply) => {
    if (req.routeOptions.url !== GRAPHQL_PATH || req.method === "GET" || req.method === "POST") return;
    return refuse(
      reply,
      new NovaError("METHOD_NOT_ALLOWED", `${req.method} is not served on ${GRAPHQL_PATH}; use GET or POST`, {
        field: "method",
      }),
      { allow: "GET, POST" },
    );
  });

  app.addHook("onRequest", async (req, reply) => {
    if (req.routeOptions.url !== GRAPHQL_PATH || req.method !== "POST") return;
    const type = String(req.headers["content-type"] ?? "")
      .split(";")[0]
      ?.trim()
      .toLowerCase();
    if (!type || !JSON_TYPES.has(type)) {
      return refuse(
        reply,
        new NovaError(
          "UNSUPPORTED_MEDIA_TYPE",
          `Content-Type must be application/json or application/graphql-response+json (got ${type ? JSON.stringify(type) : "none"})`,
          { field: "content-type" },
        ),
      );
    }
  });
}

type Analyse = (op: OperationBody, isGet: boolean) => { stats: OperationStats; document: DocumentNode };

/** Resolves, parses (cached) and checks one operation against every limit; throws a NovaError. */
function createAnalyser(opts: ProtectionOptions): Analyse {
  const { security } = opts;
  const persisted = new PersistedOperations(opts.manifest ?? loadManifest(), security.persistedOnly);
  const documents = new LRUCache<string, DocumentNode>({ max: 1_000 });
  const scalarsChecked = new WeakSet<DocumentNode>();
  return (op, isGet) => {
    if (!op || typeof op !== "object" || Array.isArray(op)) throw invalid("body", "must be a JSON object");
    const { query, remember } = persisted.resolve(op);
    let doc = documents.get(query);
    if (!doc) {
      doc = parseBounded(query, security.limits.maxTokens);
      documents.set(query, doc);
    }
    if (op.operationName !== undefined && op.operationName !== null && typeof op.operationName !== "string") {
      throw invalid("operationName", "must be a string");
    }
    if (
      op.variables !== undefined &&
      op.variables !== null &&
      (typeof op.variables !== "object" || Array.isArray(op.variables))
    ) {
      throw invalid("variables", "must be an object");
    }
    const operation = selectOperation(doc, op.operationName as string | undefined);
    const schema = opts.schema();
    const stats = checkOperation(schema, doc, operation, op.variables as Record<string, unknown>, security.limits);
    if (!scalarsChecked.has(doc)) {
      checkScalarLiterals(schema, doc);
      scalarsChecked.add(doc);
    }
    checkVariableText(doc, op.variables as Record<string, unknown> | undefined);
    if (isGet && stats.kind !== "query") {
      throw new NovaError("METHOD_NOT_ALLOWED", `${stats.kind}s must be sent with POST, never GET`, {
        field: "operation",
      });
    }
    if (remember) persisted.remember(remember, query);
    if (op.query !== query) op.query = query;
    return { stats, document: doc };
  };
}

/** The operations of a request body: one, or an array batch within the batch rule. */
function operationsOf(body: unknown, maxBatch: number): OperationBody[] {
  if (!Array.isArray(body)) return [body as OperationBody];
  if (maxBatch === 0) {
    throw new NovaError("BATCH_NOT_ALLOWED", "array-batched operations are not accepted; send one operation");
  }
  if (body.length === 0 || body.length > maxBatch) {
    throw new NovaError("BATCH_NOT_ALLOWED", `a batch holds 1 to ${maxBatch} operations (got ${body.length})`);
  }
  return body as OperationBody[];
}

/** Checks every operation of a batch; what the batch costs and how many queries and mutations it holds. */
function analyseBatch(ops: OperationBody[], analyse: Analyse, isGet: boolean, maxCost: number) {
  let cost = 0;
  let queries = 0;
  let mutations = 0;
  for (const op of ops) {
    const { stats } = analyse(op, isGet);
    if (stats.kind === "subscription") {
      throw new NovaError("METHOD_NOT_ALLOWED", "subscriptions are served over WebSocket on this path, not HTTP", {
        field: "query",
      });
    }
    cost += stats.cost;
    if (stats.kind === "mutation") mutations++;
    else queries++;
  }
  if (cost > maxCost) {
    throw new NovaError("QUERY_TOO_COMPLEX", `the batch costs ${cost}, more than the maximum of ${maxCost}`);
  }
  return { queries, mutations };
}

type Who = { userId: string | undefined; ip: string };

/** Spends the batch's queries and mutations from the rate limits; shows the tightest limit; the refusal, if any. */
async function spendRates(
  reply: FastifyReply,
  rates: RateLimits,
  who: Who,
  counts: { queries: number; mutations: number },
): Promise<RateDecision | undefined> {
  const decisions = [];
  if (counts.queries) decisions.push(await rates.consume("query", who, counts.queries));
  if (counts.mutations) decisions.push(await rates.consume("mutation", who, counts.mutations));
  const denied = decisions.find((d) => !d.allowed);
  const shown =
    denied ??
    decisions.reduce<RateDecision | undefined>((a, b) => (a && a.remaining <= b.remaining ? a : b), undefined);
  if (shown && shown.limit > 0) {
    reply.header("ratelimit-limit", shown.limit);
    reply.header("ratelimit-remaining", shown.remaining);
    reply.header("ratelimit-reset", shown.resetS);
    reply.header("ratelimit-policy", shown.policy);
  }
  return denied;
}

/** Claims an Idempotency-Key for the viewer (or the IP); a store failure refuses rather than risk a second effect. */
async function claimKey(
  idempotency: Idempotency,
  who: Who,
  key: unknown,
  body: unknown,
  opts: ProtectionOptions,
): Promise<Claim> {
  const scope = who.userId ? `user:${who.userId}` : `ip:${who.ip}`;
  const k = checkKey(String(key));
  try {
    return await idempotency.begin(scope, k, body, opts.requestTimeoutMs);
  } catch (err) {
    if (err instanceof NovaError) throw err;
    // The store failed: refuse rather than risk a second effect.
    opts.log.error({ err }, "idempotency store failed");
    throw new NovaError("UNAVAILABLE", "idempotency store unavailable; retry later");
  }
}

/** The operation checks, rate limits, call budget and Idempotency-Key of every /graphql request. */
function checkOperations(
  app: FastifyInstance,
  opts: ProtectionOptions,
  analyse: Analyse,
  rates: RateLimits,
  idempotency: Idempotency,
): void {
  const { security } = opts;
  app.addHook("preHandler", async (req, reply) => {
    if (req.routeOptions.url !== GRAPHQL_PATH) return;
    // Anything but POST reads its operation from the query string, under the GET rules.
    const isGet = req.method !== "POST";
    try {
      const body = isGet ? getBody(req.query as Record<string, unknown>) : req.body;
      const ops = operationsOf(body, security.limits.maxBatch);
      const counts = analyseBatch(ops, analyse, isGet, security.limits.maxCost);
      if (isGet) {
        // The resolved document (a persisted hash) is what Mercurius runs.
        (req.query as Record<string, unknown>).query = ops[0]?.query;
      }

      const who = { userId: req.novaCall?.user?.userId, ip: req.ip };
      const denied = await spendRates(reply, rates, who, counts);
      if (denied) {
        return refuse(
          reply,
          new NovaError("RATE_LIMITED", `rate limit reached (${denied.refusedBy}); retry in ${denied.retryAfterS} s`),
          { "retry-after": denied.retryAfterS },
        );
      }

      if (req.novaCall) attachBudget(req.novaCall, security.callBudget);

      const key = req.headers["idempotency-key"];
      if (counts.mutations && key !== undefined) {
        const claim = await claimKey(idempotency, who, key, body, opts);
        if (claim.kind === "replay") {
          return reply
            .code(claim.response.status)
            .header("content-type", claim.response.contentType)
            .header("idempotent-replayed", "true")
            .send(claim.response.body);
        }
        req.novaIdempotency = claim;
      }
    } catch (err) {
      if (err instanceof NovaError) {
        const headers: Record<string, string | number> =
          err.def.http === 503 ? { "retry-after": SHED_RETRY_AFTER_S } : {};
        return refuse(reply, err, headers);
      }
      throw err;
    }
  });
}

/** Stores the response of a claimed Idempotency-Key, for a retry to replay. */
function storeClaimedResponses(app: FastifyInstance, idempotency: Idempotency, log: Logger): void {
  app.addHook("onSend", async (req, reply, payload) => {
    const claim = req.novaIdempotency;
    if (!claim) return payload;
    req.novaIdempotency = undefined;
    const body = typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString("utf8") : null;
    try {
      if (body === null) await idempotency.finish(claim, { status: 500, contentType: "", body: "" });
      else {
        await idempotency.finish(claim, {
          status: reply.statusCode,
          contentType: String(reply.getHeader("content-type") ?? "application/json; charset=utf-8"),
          body,
        });
      }
    } catch (err) {
      log.error({ err }, "could not store the response of an Idempotency-Key");
    }
    return payload;
  });
}

export async function registerProtections(app: FastifyInstance, opts: ProtectionOptions): Promise<Protections> {
  const { security } = opts;
  const analyse = createAnalyser(opts);
  const rates = new RateLimits(security.rate, opts.redis);
  const idempotency = new Idempotency(
    opts.redis ? new RedisIdempotencyStore(opts.redis) : new MemoryIdempotencyStore(),
    security.idempotencyTtlMs,
  );
  await registerHeaders(app, opts.graphiql);
  await registerCors(app, security);
  await registerShedding(app, security, opts.log);
  registerRequestRules(app, security);
  checkOperations(app, opts, analyse, rates, idempotency);
  storeClaimedResponses(app, idempotency, opts.log);
  return { analyse: (op) => analyse(op, false), rates };
}
