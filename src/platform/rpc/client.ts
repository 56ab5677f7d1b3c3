/**
 * The one transport seam (ARCHITECTURE §1). A client is the generated Connect
 * client over either the in-process transport (peer co-located: local.ts) or a
 * gRPC-over-HTTP/2 mTLS transport (peer remote). The topology alone chooses;
 * the same interceptors run either way.
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { NovaError } from "../errors.ts";
import { remainingMs } from "./context.ts";
import { clientInterceptors, serverInterceptors } from "./interceptors.ts";
import { createLocalTransport } from "./local.ts";
import type { ServiceRegistration } from "./server.ts";
import type { TlsMaterial } from "./tls.ts";
import { COMPRESS_MIN_BYTES, MAX_MESSAGE_BYTES } from "./wire.ts";

export type Peer =
  | { kind: "local"; services: ServiceRegistration[] }
  | { kind: "remote"; baseUrl: string; tls: TlsMaterial };

export interface TransportOptions {
  caller: string;
  target: string;
  peer: Peer;
}

export function createTransport({ caller, target, peer }: TransportOptions): Transport {
  const interceptors = clientInterceptors({ caller, target });
  if (peer.kind === "local") {
    return createLocalTransport(peer.services, {
      client: interceptors,
      server: serverInterceptors({ trustCallerHeader: true }),
    });
  }
  return createGrpcTransport({
    baseUrl: peer.baseUrl,
    interceptors,
    nodeOptions: { ca: peer.tls.ca, cert: peer.tls.cert, key: peer.tls.key },
    sendCompression: compressionGzip,
    acceptCompression: [compressionGzip],
    compressMinBytes: COMPRESS_MIN_BYTES,
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
    pingIntervalMs: 30_000,
    idleConnectionTimeoutMs: 300_000,
  });
}

/**
 * A generated client whose every call carries a deadline: the caller's
 * option, else the default, and never later than the deadline of the request
 * being served (propagated downstream).
 */
export function serviceClient<S extends DescService>(
  service: S,
  transport: Transport,
  defaultTimeoutMs: number,
): Client<S> {
  const inner = createClient(service, transport) as Record<string, unknown>;
  return new Proxy(inner, {
    get(target, prop) {
      const fn = target[prop as string];
      if (typeof fn !== "function") return fn;
      return (req: unknown, opts: { timeoutMs?: number } = {}) => {
        const left = remainingMs();
        if (left !== undefined && left <= 0) return Promise.reject(new NovaError("DEADLINE_EXCEEDED"));
        const timeoutMs = Math.max(
          1,
          Math.floor(Math.min(opts.timeoutMs ?? defaultTimeoutMs, left ?? Number.POSITIVE_INFINITY)),
        );
        return fn.call(target, req, { ...opts, timeoutMs });
      };
    },
  }) as Client<S>;
}
