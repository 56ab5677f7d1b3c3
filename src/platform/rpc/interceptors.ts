/**
 * Interceptors that run on every RPC, in-process or remote alike
 * (ARCHITECTURE §1, §7): call context and deadline, caller identity, user
 * claims, W3C traceparent, RED metrics, error mapping, and on the client side
 * retries for idempotent methods and one circuit breaker per backend.
 */
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  wrap,
} from "cockatiel";
import { fromError, toConnectError } from "../errors.ts";
import { logger } from "../observability/logger.ts";
import { counter, gauge, histogram } from "../observability/metrics.ts";
import { extractTrace, injectTrace, SpanKind, withSpan } from "../observability/tracing.ts";
import {
  type CallContext,
  currentCall,
  headers,
  parseTimeoutHeader,
  roleClaims,
  rolesHeader,
  runWithCall,
} from "./context.ts";

/** Set by the remote server from the client certificate: the calling module. */
export const kPeerIdentity = createContextKey<string | undefined>(undefined, { description: "mTLS peer identity" });

const serverHandled = counter("nova_rpc_server_handled_total", "RPCs completed by the server", [
  "service",
  "method",
  "code",
]);
const serverSeconds = histogram("nova_rpc_server_handling_seconds", "Server-side RPC latency", ["service", "method"]);
const clientHandled = counter("nova_rpc_client_handled_total", "RPCs completed by the client", [
  "caller",
  "target",
  "service",
  "method",
  "code",
]);
const clientSeconds = histogram("nova_rpc_client_handling_seconds", "Client-side RPC latency", [
  "target",
  "service",
  "method",
]);
const clientRetries = counter("nova_rpc_client_retries_total", "RPC retries by the client", ["target", "method"]);
const breakerState = gauge("nova_rpc_breaker_open", "1 while the circuit breaker of a backend is open", ["target"]);

function codeName(err: unknown): string {
  if (err === undefined) return "ok";
  return Code[ConnectError.from(err).code]?.toLowerCase() ?? "unknown";
}

export interface ServerInterceptorOptions {
  /** In-process router: the caller header is trusted. Remote: only the mTLS identity is. */
  trustCallerHeader: boolean;
}

export function serverInterceptors(opts: ServerInterceptorOptions): Interceptor[] {
  const observe: Interceptor = (next) => async (req) => {
    const service = req.service.name;
    const method = req.method.name;
    const timeout = parseTimeoutHeader(req.header);
    const userId = req.header.get(headers.userId);
    const sessionId = req.header.get(headers.sessionId);
    const ctx: CallContext = {
      caller: opts.trustCallerHeader
        ? (req.header.get(headers.caller) ?? undefined)
        : req.contextValues.get(kPeerIdentity),
    };
    if (timeout !== undefined) ctx.deadline = Date.now() + timeout;
    if (userId && sessionId) {
      const roles = roleClaims((req.header.get(headers.userRoles) ?? "").split(","));
      const user: { userId: string; sessionId: string; admin?: boolean; moderator?: boolean; unverified?: boolean } = {
        userId,
        sessionId,
        ...roles,
      };
      if (req.header.get(headers.userUnverified) === "1") user.unverified = true;
      ctx.user = user;
    }
    const parent = extractTrace((k) => req.header.get(k));
    const end = serverSeconds.startTimer({ service, method });
    let err: unknown;
    try {
      return await withSpan(
        `${req.service.typeName}/${method}`,
        SpanKind.SERVER,
        () => runWithCall(ctx, () => next(req)),
        parent,
      );
    } catch (e) {
      if (!(e instanceof ConnectError) && !(e instanceof Error && e.name === "NovaError")) {
        logger().error({ err: e, rpc: `${service}/${method}` }, "unhandled error in RPC handler");
      }
      err = toConnectError(e);
      throw err;
    } finally {
      end();
      serverHandled.inc({ service, method, code: codeName(err) });
    }
  };
  return [observe];
}

export interface ClientInterceptorOptions {
  /** The module making calls (goes in metadata for in-process calls). */
  caller: string;
  /** The backend called, for metrics and the breaker. */
  target: string;
  maxRetries?: number;
  breakerThreshold?: number;
  breakerHalfOpenMs?: number;
}

const retryableCodes = new Set([Code.Unavailable, Code.ResourceExhausted, Code.Aborted, Code.Unknown]);

export function clientInterceptors(opts: ClientInterceptorOptions): Interceptor[] {
  const { caller, target } = opts;
  // One breaker per backend: consecutive transport-level failures open it.
  const breaker = circuitBreaker(
    handleWhen((e) => {
      const code = ConnectError.from(e).code;
      return code === Code.Unavailable || code === Code.DeadlineExceeded || code === Code.Internal;
    }),
    {
      halfOpenAfter: opts.breakerHalfOpenMs ?? 5_000,
      breaker: new ConsecutiveBreaker(opts.breakerThreshold ?? 5),
    },
  );
  breaker.onStateChange((s) => breakerState.set({ target }, s === 1 ? 1 : 0));
  const retryPolicy = retry(
    handleWhen((e) => !(e instanceof BrokenCircuitError) && retryableCodes.has(ConnectError.from(e).code)),
    {
      maxAttempts: opts.maxRetries ?? 3,
      backoff: new ExponentialBackoff({ initialDelay: 25, maxDelay: 1_000 }),
    },
  );
  const idempotentPolicy = wrap(retryPolicy, breaker);

  const observe: Interceptor = (next) => async (req) => {
    const service = req.service.name;
    const method = req.method.name;
    const end = clientSeconds.startTimer({ target, service, method });
    let err: unknown;
    try {
      return await withSpan(`${req.service.typeName}/${method}`, SpanKind.CLIENT, async () => {
        const call = currentCall();
        req.header.set(headers.caller, caller);
        if (call?.user) {
          req.header.set(headers.userId, call.user.userId);
          req.header.set(headers.sessionId, call.user.sessionId);
          const roles = rolesHeader(call.user);
          if (roles) req.header.set(headers.userRoles, roles);
          if (call.user.unverified) req.header.set(headers.userUnverified, "1");
        }
        for (const [k, v] of Object.entries(injectTrace())) req.header.set(k, v);
        return await next(req);
      });
    } catch (e) {
      err = e;
      throw e;
    } finally {
      end();
      clientHandled.inc({ caller, target, service, method, code: codeName(err) });
    }
  };

  const resilience: Interceptor = (next) => async (req) => {
    const idempotent = !req.stream && req.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
    try {
      if (!idempotent) return await breaker.execute(() => next(req));
      let attempt = 0;
      return await idempotentPolicy.execute(() => {
        if (attempt++ > 0) clientRetries.inc({ target, method: req.method.name });
        return next(req);
      });
    } catch (e) {
      if (e instanceof BrokenCircuitError) {
        throw new ConnectError(`circuit open for ${target}`, Code.Unavailable);
      }
      throw e;
    }
  };
  return [observe, resilience];
}

/** Converts whatever a client call throws into the catalogue's NovaError. */
export { fromError };
