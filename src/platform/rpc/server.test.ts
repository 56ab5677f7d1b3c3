import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { TLSSocket } from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthRegistry, ServingStatus } from "./health.ts";
import { startRpcServer } from "./server.ts";
import { generateDevCerts, loadTls } from "./tls.ts";

test("the RPC server reads a client's certificate once per connection, not once per call", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "nova-rpc-")), "tls");
  generateDevCerts(dir, { gateway: ["gateway"], search: ["search"] });
  const server = loadTls({ ca: join(dir, "ca.crt"), cert: join(dir, "gateway.crt"), key: join(dir, "gateway.key") });
  const health = new HealthRegistry();
  health.set("", ServingStatus.SERVING);
  const srv = await startRpcServer({
    host: "127.0.0.1",
    port: 0,
    tls: server,
    services: [],
    health,
    allowedCallers: () => new Set(),
  });
  const original = TLSSocket.prototype.getPeerCertificate;
  let reads = 0;
  TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, ...a: [boolean?]) {
    // Only the server's side (a client reads the server's certificate to verify it).
    if ((this as unknown as { _tlsOptions?: { isServer?: boolean } })._tlsOptions?.isServer) reads++;
    return original.apply(this, a as [true]);
  } as typeof original;
  try {
    const client = (name: string) => {
      const t = loadTls({ ca: join(dir, "ca.crt"), cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
      return createClient(
        Health,
        createGrpcTransport({
          baseUrl: `https://127.0.0.1:${srv.port}`,
          nodeOptions: { ca: t.ca, cert: t.cert, key: t.key },
        }),
      );
    };
    const a = client("search");
    for (let i = 0; i < 5; i++) assert.equal((await a.check({ service: "" })).status, ServingStatus.SERVING);
    assert.equal(reads, 1, "five calls on one connection read the certificate once");
    const b = client("gateway");
    await b.check({ service: "" });
    assert.equal(reads, 2, "a second connection reads its own");
  } finally {
    TLSSocket.prototype.getPeerCertificate = original;
    await srv.close(1_000);
  }
});
