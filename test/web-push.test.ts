/**
 * Web Push end to end in embedded mode: a browser's subscription registered over GraphQL, a
 * notification, and the push arriving at a real HTTPS push endpoint on loopback (a certificate of
 * a CA made at test time, trusted through PUSH_CA_FILE; loopback allowed by the test-only
 * PUSH_ALLOW_LOOPBACK). The endpoint checks the request as a push service does — the VAPID JWT
 * (RFC 8292) signed by the key pushSettings publishes, for this origin — and decrypts the payload
 * with the subscription's private key (RFC 8291, implemented here with node:crypto, not the
 * library that encrypted it). A subscription the service reports gone (410) is removed. The
 * address rules that keep the server from posting to internal addresses are checked on their own.
 */
import assert from "node:assert/strict";
import { createDecipheriv, createECDH, type ECDH, hkdfSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { generateDevCerts } from "../src/platform/rpc/tls.ts";
import { hostProblem, isPublicAddress, publicLookup } from "../src/platform/security/outbound.ts";
import type { Nova } from "../src/runtime/app.ts";
import { validateWebSubscription } from "../src/services/notifications/validation.ts";
import { gql, register, startInProcess, tempDir } from "./helpers.ts";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A push service on loopback: records each request and answers `status`. */
class PushEndpoint {
  readonly received: Received[] = [];
  status = 201;
  private server!: Server;
  origin = "";
  constructor(private readonly tls: { key: Buffer; cert: Buffer }) {}
  async start(): Promise<void> {
    this.server = createServer(this.tls, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.origin = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async next(count: number, ms = 60_000): Promise<Received> {
    const end = Date.now() + ms;
    while (this.received.length < count && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const r = this.received[count - 1];
    assert.ok(r, `push ${count} did not arrive`);
    return r;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** RFC 8291 §3.4 and RFC 8188: the plaintext of an aes128gcm body for the subscription (ua) keys. */
function decrypt(body: Buffer, ua: ECDH, auth: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idlen = body[20] as number;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const secret = ua.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", secret, auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const d = createDecipheriv("aes-128-gcm", cek, nonce);
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  const end = padded.lastIndexOf(2);
  assert.ok(end >= 0 && padded.subarray(end + 1).every((b) => b === 0), "record padding");
  return padded.subarray(0, end);
}

/** Checks the VAPID header as a push service does; answers the JWT's claims. */
async function verifyVapid(headers: IncomingHttpHeaders, audience: string, publicKey: string) {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(headers.authorization ?? "");
  assert.ok(m, `a VAPID Authorization header (got ${headers.authorization})`);
  const [, token, k] = m as unknown as [string, string, string];
  assert.equal(k, publicKey, "k is the key pushSettings publishes");
  assert.equal(decodeProtectedHeader(token).alg, "ES256");
  const raw = Buffer.from(k, "base64url");
  const key = await importJWK(
    {
      kty: "EC",
      crv: "P-256",
      x: raw.subarray(1, 33).toString("base64url"),
      y: raw.subarray(33).toString("base64url"),
    },
    "ES256",
  );
  const { payload } = await jwtVerify(token, key, { audience });
  assert.ok((payload.exp ?? 0) <= Date.now() / 1000 + 24 * 3600 + 60, "exp at most 24 h ahead");
  return payload;
}

let nova: Nova;
let url: string;
let endpoint: PushEndpoint;

before(async () => {
  const pki = tempDir("nova-push-pki-");
  generateDevCerts(pki, { push: ["push"] });
  endpoint = new PushEndpoint({ key: readFileSync(join(pki, "push.key")), cert: readFileSync(join(pki, "push.crt")) });
  await endpoint.start();
  ({ nova, url } = await startInProcess({ PUSH_ALLOW_LOOPBACK: "true", PUSH_CA_FILE: join(pki, "ca.crt") }));
});
after(async () => {
  await nova.stop();
  await endpoint.stop();
});

const REGISTER_PUSH = `mutation($input: RegisterPushTokenInput!) { registerPushToken(input: $input) { deviceId platform } }`;
const FOLLOW = `mutation($id: ID!) { follow(userId: $id) { id } }`;

describe("Web Push", () => {
  test("a follow reaches the browser's push service, signed with VAPID and encrypted to its keys; a 410 removes it", async () => {
    const alice = await register(url);
    const settings = await gql(url, "{ pushSettings { webPushPublicKey } }");
    const vapid = settings.body.data.pushSettings.webPushPublicKey as string;
    assert.match(vapid, /^[A-Za-z0-9_-]{87}$/);

    const browser = createECDH("prime256v1");
    browser.generateKeys();
    const auth = randomBytes(16);
    const input = {
      platform: "WEB",
      deviceId: "browser-1",
      endpoint: `${endpoint.origin}/push/sub-1`,
      p256dh: browser.getPublicKey().toString("base64url"),
      auth: auth.toString("base64url"),
    };
    const reg = await gql(url, REGISTER_PUSH, { token: alice.accessToken, variables: { input } });
    assert.deepEqual(
      reg.body.data?.registerPushToken,
      { deviceId: "browser-1", platform: "WEB" },
      JSON.stringify(reg.body),
    );

    const bob = await register(url);
    await gql(url, FOLLOW, { token: bob.accessToken, variables: { id: alice.user.id } });
    const push = await endpoint.next(1);
    assert.equal(push.path, "/push/sub-1");
    assert.equal(push.headers["content-encoding"], "aes128gcm");
    assert.equal(push.headers.ttl, "86400");
    assert.equal(push.headers.urgency, "normal");
    assert.match(String(push.headers.topic), /^[A-Za-z0-9_-]{1,32}$/);
    const claims = await verifyVapid(push.headers, endpoint.origin, vapid);
    assert.match(String(claims.sub), /^mailto:/);
    const message = JSON.parse(decrypt(push.body, browser, auth).toString("utf8"));
    assert.equal(message.type, "FOLLOW");
    assert.equal(message.actorCount, 1);
    assert.match(message.notificationId, /^[0-9a-f-]{36}$/);
    assert.ok(message.badge >= 1);

    // The push service says the subscription is gone: the device is removed, nothing more is sent.
    endpoint.status = 410;
    const carol = await register(url);
    await gql(url, FOLLOW, { token: carol.accessToken, variables: { id: alice.user.id } });
    await endpoint.next(2);
    const removed = async () =>
      (await gql(url, `mutation { unregisterPushToken(deviceId: "browser-1") }`, { token: alice.accessToken })).body
        .data?.unregisterPushToken;
    const end = Date.now() + 30_000;
    while ((await removed()) !== false && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await removed(), false, "the gone subscription was removed");
  });

  test("bad subscriptions are coded errors naming the field", async () => {
    const alice = await register(url);
    const key = createECDH("prime256v1");
    key.generateKeys();
    const good = {
      platform: "WEB",
      deviceId: "b",
      endpoint: `${endpoint.origin}/x`,
      p256dh: key.getPublicKey().toString("base64url"),
      auth: randomBytes(16).toString("base64url"),
    };
    const cases: [Record<string, string>, string][] = [
      [{ endpoint: "" }, "endpoint"],
      [{ endpoint: "http://push.example.com/x" }, "endpoint"],
      [{ endpoint: "https://10.1.2.3/x" }, "endpoint"],
      [{ endpoint: "https://169.254.169.254/latest/meta-data" }, "endpoint"],
      [{ endpoint: "https://[fd00::1]/x" }, "endpoint"],
      [{ endpoint: "https://user:pw@push.example.com/x" }, "endpoint"],
      [{ p256dh: randomBytes(65).toString("base64url") }, "p256dh"],
      [{ p256dh: "not base64!" }, "p256dh"],
      [{ auth: randomBytes(8).toString("base64url") }, "auth"],
    ];
    for (const [change, field] of cases) {
      const r = await gql(url, REGISTER_PUSH, {
        token: alice.accessToken,
        variables: { input: { ...good, ...change } },
      });
      const e = r.body.errors?.[0]?.extensions;
      assert.deepEqual(
        [e?.code, e?.field],
        ["BAD_USER_INPUT", field],
        `${JSON.stringify(change)}: ${JSON.stringify(r.body)}`,
      );
    }
  });
});

describe("outbound requests reach public addresses only", () => {
  test("address ranges", () => {
    for (const a of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) assert.ok(isPublicAddress(a), a);
    for (const a of [
      "127.0.0.1",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "::1",
      "::",
      "fe80::1",
      "fd12:3456::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "not an address",
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
    assert.ok(isPublicAddress("127.0.0.1", true));
    assert.equal(isPublicAddress("10.0.0.1", true), false, "loopback only, not every private range");
  });

  test("host names and endpoints, without the loopback setting", async () => {
    for (const h of ["https://localhost/x", "https://printer.local/x", "https://db.internal/x", "https://intranet/x"]) {
      assert.ok(hostProblem(new URL(h)), h);
    }
    assert.equal(hostProblem(new URL("https://fcm.googleapis.com/fcm/send/abc")), undefined);
    const key = createECDH("prime256v1");
    key.generateKeys();
    assert.throws(
      () =>
        validateWebSubscription(
          { endpoint: "https://127.0.0.1/x", p256dh: key.getPublicKey().toString("base64url"), auth: "A".repeat(22) },
          false,
        ),
      (e: { field?: string }) => e.field === "endpoint",
    );
    // A name that resolves to loopback is refused at connection time.
    const lookup = publicLookup(false);
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup("localhost", { family: 0 }, (e) => resolve(e)),
    );
    assert.equal(err?.code, "ENOTPUBLIC");
  });
});
