/**
 * The in-process transport (ARCHITECTURE §1: a co-located peer is a function
 * call). The generated client hands its request to the service implementation
 * directly: no protobuf encoding, no byte streams, no HTTP framing. What a
 * remote call does still happens, in the same order:
 *   client interceptors (caller, user and trace metadata, metrics, retries,
 *   breaker) -> server interceptors (call context and deadline from that
 *   metadata, span, metrics, error mapping) -> the method.
 * The deadline is enforced on the client side as over the network: after
 * `timeoutMs` the call fails with DEADLINE_EXCEEDED and the handler's signal
 * aborts.
 *
 * Messages are passed by reference, both ways: a request the caller built is
 * what the method reads, and the reply the method built is what the caller
 * gets. Neither side mutates a message after handing it over (the same rule as
 * the cache's L1). Streaming methods (only grpc.health Watch, never called in
 * process) are refused with UNIMPLEMENTED.
 */
import { create, type DescMessage, type DescMethod, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { ServiceRegistration } from "./server.ts";

type UnaryFn = (req: UnaryRequest) => Promise<UnaryResponse>;
type Impl = (req: unknown, ctx: HandlerContext) => unknown;

const TIMEOUT_HEADER = "connect-timeout-ms";

function chain(next: UnaryFn, interceptors: Interceptor[]): UnaryFn {
  return interceptors.reduceRight((n, i) => i(n as never) as unknown as UnaryFn, next);
}

/** Settles with `work`, or rejects with DEADLINE_EXCEEDED after `ms` (aborting `abort`). */
function bounded<T>(work: Promise<T>, ms: number | undefined, abort: () => void): Promise<T> {
  if (ms === undefined || ms <= 0) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      abort();
      reject(new ConnectError(`the operation timed out after ${ms} ms`, Code.DeadlineExceeded));
    }, ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

export function createLocalTransport(
  services: ServiceRegistration[],
  opts: { client: Interceptor[]; server: Interceptor[] },
): Transport {
  const never = new AbortController().signal;
  const impls = new Map<DescMethod, Impl>();
  for (const s of services) {
    for (const m of Object.values(createServiceImplSpec(s.service, s.impl).methods)) {
      if (m.kind === "unary") impls.set(m.method, m.impl as Impl);
    }
  }

  /** The server half: what the router would do with a decoded request. */
  const serve = chain(async (req) => {
    const impl = impls.get(req.method);
    if (!impl)
      throw new ConnectError(`${req.service.typeName}/${req.method.name} is not implemented`, Code.Unimplemented);
    const started = Date.now();
    const timeout = req.header.get(TIMEOUT_HEADER);
    const ctx: HandlerContext = {
      service: req.service,
      method: req.method,
      get signal() {
        return req.signal;
      },
      timeoutMs: () => (timeout === null ? undefined : Number(timeout) - (Date.now() - started)),
      requestMethod: req.requestMethod,
      requestHeader: req.header,
      responseHeader: new Headers(),
      responseTrailer: new Headers(),
      protocolName: "local",
      values: req.contextValues,
      url: req.url,
    };
    const out = await impl(req.message, ctx);
    return {
      stream: false,
      service: req.service,
      method: req.method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: create(req.method.output, out as MessageInitShape<DescMessage>),
    } as UnaryResponse;
  }, opts.server);

  /** The client half ends by crossing to the server with the metadata (deadline included). */
  const call = chain((req) => {
    const t = req.header.get(TIMEOUT_HEADER);
    const timeoutMs = t === null ? undefined : Number(t);
    // The handler's signal is made only if the handler looks at it (most never do).
    let aborter: AbortController | undefined;
    let aborted: { reason: unknown } | undefined;
    const abort = (reason?: unknown) => {
      aborted ??= { reason };
      aborter?.abort(reason);
    };
    let cancel: ((e: unknown) => void) | undefined;
    const onAbort = () => {
      abort(req.signal.reason);
      cancel?.(new ConnectError("the caller cancelled the call", Code.Canceled));
    };
    const linked = req.signal !== never;
    if (linked) {
      if (req.signal.aborted) onAbort();
      else req.signal.addEventListener("abort", onAbort, { once: true });
    }
    const work = serve({
      ...req,
      get signal() {
        if (!aborter) {
          aborter = new AbortController();
          if (aborted) aborter.abort(aborted.reason);
        }
        return aborter.signal;
      },
      contextValues: createContextValues(),
    });
    const done = bounded(work, timeoutMs, () => abort());
    if (!linked) return done;
    // A caller's own signal cancels the call as it would over the network.
    const cancelled = new Promise<never>((_, reject) => {
      cancel = reject;
      if (req.signal.aborted) reject(new ConnectError("the caller cancelled the call", Code.Canceled));
    });
    return Promise.race([done, cancelled]).finally(() => req.signal.removeEventListener("abort", onAbort));
  }, opts.client);

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues?: ContextValues) {
      const h = new Headers(header);
      if (timeoutMs !== undefined && timeoutMs > 0) h.set(TIMEOUT_HEADER, String(Math.ceil(timeoutMs)));
      return (await call({
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: `local:///${method.parent.typeName}/${method.name}`,
        signal: signal ?? never,
        header: h,
        contextValues: contextValues ?? createContextValues(),
        message: create(method.input, input),
      } as UnaryRequest)) as never;
    },
    async stream(method) {
      throw new ConnectError(
        `${method.parent.typeName}/${method.name}: streaming is not served in process`,
        Code.Unimplemented,
      );
    },
  };
}
