/**
 * GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol of
 * `graphql-ws`) on the gateway's /graphql path.
 *
 * - Authenticated at connection init: `connectionParams.authorization =
 *   "Bearer <access token>"`. A missing or bad token closes the socket with
 *   4401 and the catalogue code as the reason (`UNAUTHENTICATED: …`,
 *   `TOKEN_INVALID: …`).
 * - Only subscriptions are served here (queries and mutations go over HTTP,
 *   where the rate limits per kind and Idempotency-Keys apply). Each one passes
 *   the same checks as over HTTP: persisted operations, depth/cost/alias/token
 *   limits, the query rate budget.
 * - Each subscription listens on bus channels (services/realtime/channels.ts) and hydrates each
 *   push with fresh DataLoaders, through the same batch RPCs and rules as reads.
 * - Memory is bounded: a connection holds at most REALTIME_MAX_SUBSCRIPTIONS
 *   subscriptions, each at most REALTIME_MAX_QUEUE undelivered pushes; a client
 *   that falls behind (its queue is full, or more than REALTIME_MAX_BUFFER_KB
 *   wait in its socket's send buffer) is disconnected with 4413 SLOW_CONSUMER.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import proxyAddr from "@fastify/proxy-addr";
import type { FastifyInstance } from "fastify";
import { type ExecutionArgs, GraphQLError } from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import { fromError, NovaError } from "../../platform/errors.ts";
import { counter, gauge } from "../../platform/observability/metrics.ts";
import type { Bus } from "../../platform/pubsub/bus.ts";
import { runWithCall, type UserClaims } from "../../platform/rpc/context.ts";
import { type Push, parsePush } from "../../services/realtime/channels.ts";
import type { GatewayContext, GatewayDeps } from "../context.ts";
import { createLoaders } from "../loaders.ts";
import type { Protections } from "../protections.ts";
import type { RealtimeLimits } from "../security.ts";

export const CLOSE = {
  /** No token, or a bad one, at connection init. */
  UNAUTHENTICATED: CloseCode.Unauthorized,
  /** The client does not read fast enough: its queue or send buffer is full. */
  SLOW_CONSUMER: 4413,
} as const;

/** How long a slow client gets to read up to the close frame before its connection is dropped. */
const SLOW_CLOSE_GRACE_MS = 10_000;

/** What a subscription resolver needs beyond the usual context. */
export interface RealtimeContext extends GatewayContext {
  realtime: {
    bus: Bus;
    socket: WebSocket;
    limits: RealtimeLimits;
    /** Fresh per-push DataLoaders (a subscription lives long; cached loads would go stale). */
    refresh(): void;
  };
}

const connections = gauge("nova_realtime_connections", "Open GraphQL subscription connections");
const active = gauge("nova_realtime_subscriptions", "Active GraphQL subscriptions");
const pushes = counter("nova_realtime_pushes_total", "Pushes by outcome", ["outcome"]);
const closes = counter("nova_realtime_closes_total", "Subscription connections the server closed, by reason", [
  "reason",
]);

export interface SubscriptionOptions {
  app: FastifyInstance;
  deps: GatewayDeps;
  protections: Protections;
  bus: Bus;
  limits: RealtimeLimits;
  path: string;
  log: Logger;
  authenticate(token: string): Promise<UserClaims>;
  /** Origins allowed to open a socket from a browser (the CORS allow-list; "*" for any). */
  origins: string[];
  /** Which X-Forwarded-For hops give the client's IP (Fastify's trustProxy, as for HTTP). */
  trustProxy: boolean | number | string;
}

/** The client's IP by the same rule Fastify applies to HTTP requests (trustProxy). */
export function clientIp(req: IncomingMessage, trust: boolean | number | string): string {
  const fn =
    trust === true
      ? () => true
      : typeof trust === "number"
        ? (_addr: string, i: number) => i < trust
        : typeof trust === "string" && trust !== ""
          ? proxyAddr.compile(trust.split(",").map((x) => x.trim()))
          : () => false;
  return proxyAddr(req, fn);
}

interface Conn {
  user?: UserClaims;
  ip: string;
  subscriptions: number;
}

function graphqlError(err: unknown): GraphQLError {
  const e = fromError(err);
  const extensions: Record<string, unknown> = { code: e.def.graphql };
  if (e.field) extensions.field = e.field;
  return new GraphQLError(e.code === "INTERNAL" ? "internal error" : e.message, { extensions });
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Serves subscriptions on `path`; returns a function that closes every socket. */
export function attachSubscriptions(opts: SubscriptionOptions): () => Promise<void> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const conns = new WeakMap<WebSocket, Conn>();
  const anyOrigin = opts.origins.includes("*");

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== opts.path) return socket.destroy();
    // Browsers send their Origin: refuse pages that are not on the allow-list (cross-site WebSocket hijacking).
    // The gateway's own pages (the web client it serves) are same-origin: the Origin names the Host.
    const origin = req.headers.origin;
    if (origin && !anyOrigin && !opts.origins.includes(origin) && !sameOrigin(origin, req.headers.host)) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  };
  opts.app.server.on("upgrade", onUpgrade);

  const contextFor = (user: UserClaims, socket: WebSocket): RealtimeContext => {
    const call = <T>(fn: () => Promise<T>): Promise<T> =>
      runWithCall({ user, deadline: Date.now() + opts.deps.requestTimeoutMs }, fn);
    const ctx: RealtimeContext = {
      deps: opts.deps,
      user,
      call,
      loaders: createLoaders(opts.deps, call),
      forgetSessions: () => undefined,
      realtime: {
        bus: opts.bus,
        socket,
        limits: opts.limits,
        refresh: () => {
          ctx.loaders = createLoaders(opts.deps, call);
        },
      },
    };
    return ctx;
  };

  const server = useServer(
    {
      schema: opts.app.graphql.schema,
      connectionInitWaitTimeout: 10_000,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const ip = clientIp(ctx.extra.request, opts.trustProxy);
        const raw = (ctx.connectionParams ?? {}) as Record<string, unknown>;
        const auth = typeof raw.authorization === "string" ? raw.authorization : raw.Authorization;
        const m = typeof auth === "string" ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(auth) : null;
        if (!m) {
          closes.inc({ reason: "unauthenticated" });
          socket.close(
            CLOSE.UNAUTHENTICATED,
            "UNAUTHENTICATED: connectionParams.authorization must be `Bearer <token>`",
          );
          return false;
        }
        try {
          conns.set(socket, { user: await opts.authenticate(m[1] as string), ip, subscriptions: 0 });
        } catch (err) {
          const e = fromError(err);
          if (e.code === "INTERNAL" || e.code === "UNAVAILABLE" || e.code === "DEADLINE_EXCEEDED") {
            opts.log.error({ err }, "subscription authentication failed");
            socket.close(CloseCode.InternalServerError, `${e.code}: could not check the token`);
          } else {
            closes.inc({ reason: "unauthenticated" });
            socket.close(CLOSE.UNAUTHENTICATED, `${e.code}: ${e.message}`.slice(0, 120));
          }
          return false;
        }
        connections.inc();
        socket.once("close", () => connections.dec());
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const socket = ctx.extra.socket;
        const conn = conns.get(socket);
        if (!conn?.user) return [graphqlError(new NovaError("UNAUTHENTICATED"))];
        try {
          if (conn.subscriptions >= opts.limits.maxSubscriptions) {
            throw new NovaError(
              "RATE_LIMITED",
              `a connection holds at most ${opts.limits.maxSubscriptions} subscriptions`,
            );
          }
          const { stats, document } = opts.protections.analyse({
            query: payload.query,
            operationName: payload.operationName,
            variables: payload.variables,
            extensions: payload.extensions,
          });
          if (stats.kind !== "subscription") {
            throw new NovaError(
              "METHOD_NOT_ALLOWED",
              "only subscriptions are served over WebSocket; send queries and mutations over HTTP",
              { field: "query" },
            );
          }
          const rate = await opts.protections.rates.consume("query", { userId: conn.user.userId, ip: conn.ip });
          if (!rate.allowed) {
            throw new NovaError(
              "RATE_LIMITED",
              `rate limit reached (${rate.refusedBy}); retry in ${rate.retryAfterS} s`,
            );
          }
          conn.subscriptions++;
          const args: ExecutionArgs = {
            schema: opts.app.graphql.schema,
            document,
            operationName: payload.operationName ?? null,
            variableValues: payload.variables ?? null,
            contextValue: contextFor(conn.user, socket),
          };
          return args;
        } catch (err) {
          if (!(err instanceof NovaError)) opts.log.error({ err }, "subscription refused");
          return [graphqlError(err)];
        }
      },
      onComplete: (ctx) => {
        const conn = conns.get(ctx.extra.socket);
        if (conn && conn.subscriptions > 0) conn.subscriptions--;
      },
    },
    wss,
    12_000,
  );

  return async () => {
    opts.app.server.off("upgrade", onUpgrade);
    for (const ws of wss.clients) ws.close(1001, "going away");
    await server.dispose();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}

/**
 * A subscription's stream of pushes from bus channels: each push that
 * `prepare` turns into a value (hydrated, allowed by the rules) is yielded.
 * `update` may change the channels while it runs (a feed follows follows).
 * A client that falls behind is disconnected (4413) rather than buffered.
 * Resolves once every channel is live, so nothing published afterwards is missed.
 */
export async function pushStream<V>(
  ctx: RealtimeContext,
  channels: string[],
  prepare: (push: Push) => Promise<V | undefined>,
  control?: (push: Push, stream: { add(channel: string): void; remove(channel: string): void }) => void,
): Promise<AsyncIterableIterator<V>> {
  const { bus, socket, limits } = ctx.realtime;
  const queue: Push[] = [];
  const subs = new Map<string, Promise<() => void>>();
  let wake: (() => void) | undefined;
  let done = false;
  let counted = false;

  const stop = () => {
    if (done) return;
    done = true;
    if (counted) active.dec();
    for (const s of subs.values())
      void s.then(
        (off) => off(),
        () => undefined,
      );
    subs.clear();
    queue.length = 0;
    wake?.();
  };
  const onMessage = (raw: string) => {
    if (done) return;
    const push = parsePush(raw);
    if (!push) return;
    if (control) control(push, handle);
    if (queue.length >= limits.maxQueue || socket.bufferedAmount > limits.maxBufferedBytes) {
      pushes.inc({ outcome: "slow_consumer" });
      closes.inc({ reason: "slow_consumer" });
      socket.close(CLOSE.SLOW_CONSUMER, "SLOW_CONSUMER: the client does not read fast enough");
      // The close frame waits behind what the client has not read; a client that never reads is cut.
      setTimeout(() => socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
      stop();
      return;
    }
    queue.push(push);
    wake?.();
  };
  const handle = {
    add(channel: string) {
      if (done || subs.has(channel)) return;
      subs.set(channel, bus.subscribe(channel, onMessage));
    },
    remove(channel: string) {
      const s = subs.get(channel);
      subs.delete(channel);
      void s?.then(
        (off) => off(),
        () => undefined,
      );
    },
  };
  for (const c of channels) handle.add(c);
  try {
    await Promise.all(subs.values());
  } catch (err) {
    stop();
    throw err;
  }
  // Counted once its channels are subscribed: an active subscription gets what is published from then on.
  if (!done) {
    active.inc();
    counted = true;
  }

  const iterator: AsyncIterableIterator<V> = {
    async next(): Promise<IteratorResult<V>> {
      while (!done) {
        const push = queue.shift();
        if (!push) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        ctx.realtime.refresh();
        try {
          const value = await prepare(push);
          if (value !== undefined && value !== null) {
            pushes.inc({ outcome: "sent" });
            return { value, done: false };
          }
          pushes.inc({ outcome: "filtered" });
        } catch (err) {
          pushes.inc({ outcome: "error" });
          ctx.deps.log.warn({ err }, "a push could not be hydrated; skipped");
        }
      }
      return { value: undefined, done: true };
    },
    async return(): Promise<IteratorResult<V>> {
      stop();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}
