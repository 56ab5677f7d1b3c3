/**
 * The gRPC server of a process (HTTP/2 with mTLS) and its plain admin server
 * (HTTP/1.1 + h2c: /metrics, /healthz, /readyz and grpc.health.v1 for probes).
 */
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import type { DescService } from "@bufbuild/protobuf";
import { type ConnectRouter, createContextValues, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { renderMetrics } from "../observability/metrics.ts";
import { Health, type HealthRegistry } from "./health.ts";
import { kPeerIdentity, serverInterceptors } from "./interceptors.ts";
import { peerModules, type TlsMaterial } from "./tls.ts";
import { COMPRESS_MIN_BYTES, MAX_MESSAGE_BYTES } from "./wire.ts";

export interface ServiceRegistration {
  service: DescService;
  // biome-ignore lint/suspicious/noExplicitAny: implementations are typed at their definition
  impl: Partial<ServiceImpl<any>>;
}

export function routesOf(regs: ServiceRegistration[]): (router: ConnectRouter) => void {
  return (router) => {
    for (const r of regs) router.service(r.service, r.impl);
  };
}

export interface Closable {
  readonly port: number;
  close(graceMs: number): Promise<void>;
}

/** The module names in each HTTP/2 session's client certificate. */
const peersBySession = new WeakMap<object, string[]>();

function trackSessions(server: http2.Http2Server | http2.Http2SecureServer) {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  return async (graceMs: number) => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sessions) s.close(); // GOAWAY: in-flight streams finish
    const timer = setTimeout(() => {
      for (const s of sessions) s.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  };
}

function listen(server: http2.Http2Server | http2.Http2SecureServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function grpcDenied(res: http2.Http2ServerResponse, message: string): void {
  res.writeHead(200, {
    "content-type": "application/grpc",
    "grpc-status": "7",
    "grpc-message": encodeURIComponent(message),
  });
  res.end();
}

export interface RpcServerOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  services: ServiceRegistration[];
  health: HealthRegistry;
  /** Service type name -> modules allowed to call it. */
  allowedCallers: (serviceTypeName: string) => ReadonlySet<string>;
}

export async function startRpcServer(opts: RpcServerOptions): Promise<Closable> {
  const handler = connectNodeAdapter({
    routes: routesOf([...opts.services, { service: Health, impl: opts.health.impl() }]),
    interceptors: serverInterceptors({ trustCallerHeader: false }),
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
    compressMinBytes: COMPRESS_MIN_BYTES,
    contextValues: (req) => createContextValues().set(kPeerIdentity, (req as { novaPeer?: string }).novaPeer),
  });
  const server = http2.createSecureServer(
    {
      key: opts.tls.key,
      cert: opts.tls.cert,
      ca: opts.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
    },
    (req, res) => {
      // A connection's peer certificate is fixed (TLS 1.3, no renegotiation): read it once per HTTP/2 session.
      const session = (req as unknown as { stream?: { session?: object } }).stream?.session;
      let peers = session && peersBySession.get(session);
      if (!peers) {
        peers = peerModules(req.socket as TLSSocket);
        if (session && peers.length) peersBySession.set(session, peers);
      }
      const service = req.url.split("/")[1] ?? "";
      const allowed = service === Health.typeName ? peers[0] : peers.find((p) => opts.allowedCallers(service).has(p));
      if (!allowed) {
        grpcDenied(res, `caller ${peers.join("+") || "unknown"} may not call ${service}`);
        return;
      }
      (req as unknown as { novaPeer: string }).novaPeer = allowed;
      handler(req, res);
    },
  );
  const close = trackSessions(server);
  const port = await listen(server, opts.host, opts.port);
  return { port, close };
}

export interface AdminServerOptions {
  host: string;
  port: number;
  health: HealthRegistry;
  ready: () => Promise<Record<string, boolean>>;
}

export async function startAdminServer(opts: AdminServerOptions): Promise<Closable> {
  const grpc = connectNodeAdapter({ routes: routesOf([{ service: Health, impl: opts.health.impl() }]) });
  const h1 = http.createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    try {
      if (path === "/metrics") {
        const m = await renderMetrics();
        res.writeHead(200, { "content-type": m.contentType }).end(m.body);
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      } else if (path === "/readyz") {
        const checks = await opts.ready();
        const ok = Object.values(checks).every(Boolean);
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ok, checks }));
      } else {
        res.writeHead(404).end();
      }
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  // Plaintext HTTP/2 (h2c, prior knowledge) for kubelet gRPC probes: health only.
  const h2 = http2.createServer((req, res) => {
    if (req.url.startsWith(`/${Health.typeName}/`)) grpc(req, res);
    else res.writeHead(404).end();
  });
  const closeH2 = trackSessions(h2);
  // One port for both: the HTTP/2 connection preface tells them apart.
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", (chunk) => {
      socket.pause();
      socket.unshift(chunk);
      if (chunk.subarray(0, 3).toString("latin1") === "PRI") {
        // HTTP/2 reads the socket's handle itself and picks up the unshifted bytes.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    front.once("error", reject);
    front.listen(opts.port, opts.host, () => resolve((front.address() as AddressInfo).port));
  });
  return {
    port,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      h1.closeIdleConnections();
      await closeH2(Math.min(graceMs, 1000));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
