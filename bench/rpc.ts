/**
 * What one unary RPC costs, side by side in one run: CPU time per call (client
 * and server together, both in this process) and calls/s, one call at a time
 * and 16 in flight, for
 * - `http2_mtls`: bare node:http2 over mutual TLS with a gRPC-shaped exchange
 *   (headers, one small message each way, trailers): the floor;
 * - `connect_mtls`: Connect-ES's gRPC transport and Node adapter on the same
 *   connection kind, no interceptors;
 * - `nova_mtls`: Nova's RPC server and client as `nova serve` runs them
 *   (peer identity from the certificate, interceptors: context and deadline,
 *   user claims, trace context, spans, RED metrics, retries and breaker);
 * - `nova_in_process`: the in-process transport with the same interceptors, as
 *   `nova start` runs calls between co-located modules.
 * The method is grpc.health.v1 Check (no I/O), so only the RPC stack is measured.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { createTransport } from "../src/platform/rpc/client.ts";
import { Health, HealthRegistry } from "../src/platform/rpc/health.ts";
import { routesOf, startRpcServer } from "../src/platform/rpc/server.ts";
import { generateDevCerts, loadTls } from "../src/platform/rpc/tls.ts";

const say = (m: string) => process.stderr.write(`rpc: ${m}\n`);

type Call = () => Promise<unknown>;

async function measure(call: Call, calls: number, concurrency: number) {
  for (let i = 0; i < Math.min(300, calls / 4); i++) await call();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) await call();
    }),
  );
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    calls_per_s: Math.round(calls / (wall / 1000)),
    cpu_us_per_call: Math.round((cpu.user + cpu.system) / calls),
  };
}

/** Listens on a free port; returns it and a close that ends the clients' sessions too (they stay open). */
async function listen(server: http2.Http2SecureServer): Promise<{ port: number; close: () => Promise<void> }> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const calls = quick ? 1_500 : 10_000;
  const dir = mkdtempSync(join(tmpdir(), "nova-bench-rpc-"));
  const closers: (() => unknown)[] = [];
  try {
    generateDevCerts(join(dir, "tls"), { gateway: ["gateway"], search: ["search"] });
    const files = (name: string) => ({
      ca: join(dir, "tls", "ca.crt"),
      cert: join(dir, "tls", `${name}.crt`),
      key: join(dir, "tls", `${name}.key`),
    });
    const serverTls = loadTls(files("search"));
    const clientTls = loadTls(files("gateway"));
    const serverOptions = { ...serverTls, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" as const };
    const clientOptions = { ca: clientTls.ca, cert: clientTls.cert, key: clientTls.key };
    const health = new HealthRegistry();
    const request = { service: "" };
    const variants: Record<string, Call> = {};

    // The floor: node:http2 and TLS alone.
    {
      const server = http2.createSecureServer(serverOptions);
      server.on("stream", (stream) => {
        stream.on("data", () => undefined);
        stream.on("end", () => {
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          stream.end(Buffer.alloc(7));
        });
      });
      const { port, close } = await listen(server);
      const session = http2.connect(`https://127.0.0.1:${port}`, { ...clientOptions, servername: "localhost" });
      closers.push(() => session.destroy(), close);
      const body = Buffer.from([0, 0, 0, 0, 2, 10, 0]);
      variants.http2_mtls = () =>
        new Promise<void>((resolve, reject) => {
          const s = session.request({
            ":method": "POST",
            ":path": "/grpc.health.v1.Health/Check",
            "content-type": "application/grpc",
            te: "trailers",
          });
          s.on("data", () => undefined);
          s.on("end", () => resolve());
          s.on("error", reject);
          s.end(body);
        });
    }
    // Connect alone.
    {
      const handler = connectNodeAdapter({ routes: routesOf([{ service: Health, impl: health.impl() }]) });
      const server = http2.createSecureServer(serverOptions, handler);
      const { port, close } = await listen(server);
      closers.push(close);
      const client = createClient(
        Health,
        createGrpcTransport({ baseUrl: `https://localhost:${port}`, nodeOptions: clientOptions }),
      );
      variants.connect_mtls = () => client.check(request);
    }
    // Nova's server and client, as `nova serve` runs them.
    {
      const srv = await startRpcServer({
        host: "127.0.0.1",
        port: 0,
        tls: serverTls,
        services: [],
        health,
        allowedCallers: () => new Set(["gateway"]),
      });
      closers.push(() => srv.close(100));
      const client = createClient(
        Health,
        createTransport({
          caller: "gateway",
          target: "search",
          peer: { kind: "remote", baseUrl: `https://localhost:${srv.port}`, tls: clientTls },
        }),
      );
      variants.nova_mtls = () => client.check(request);
    }
    // In process, as `nova start` calls a co-located module.
    {
      const client = createClient(
        Health,
        createTransport({
          caller: "gateway",
          target: "search",
          peer: { kind: "local", services: [{ service: Health, impl: health.impl() }] },
        }),
      );
      variants.nova_in_process = () => client.check(request);
    }

    const result: Record<string, unknown> = { calls_per_variant: calls };
    for (const concurrency of [1, 16]) {
      for (const [name, call] of Object.entries(variants)) {
        const m = await measure(call, calls, concurrency);
        say(`${name} x${concurrency}: ${m.calls_per_s} calls/s, ${m.cpu_us_per_call} us CPU per call (both sides)`);
        result[`${name}_c${concurrency}`] = m;
      }
    }
    return result;
  } finally {
    for (const c of closers.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  }
}
