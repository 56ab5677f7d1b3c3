import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Fastify from "fastify";
import { registerWeb, webPolicy } from "./web.ts";

function built(): string {
  const dir = mkdtempSync(join(tmpdir(), "nova-web-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>Nova</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  return dir;
}

async function app(dir: string) {
  const a = Fastify();
  a.post("/graphql", async () => ({ data: {} }));
  a.get("/healthz", async () => ({ status: "ok" }));
  assert.equal(registerWeb(a, { dir, mediaOrigins: ["https://cdn.example"] }), true);
  return a;
}

const html = { accept: "text/html,application/xhtml+xml" };

test("the index and client routes: index.html, no-cache, the client's CSP", async () => {
  const a = await app(built());
  for (const url of ["/", "/u/alice", "/p/123", "/notifications"]) {
    const res = await a.inject({ url, headers: html });
    assert.equal(res.statusCode, 200, url);
    assert.match(res.body, /<title>Nova/);
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.equal(res.headers["content-security-policy"], webPolicy(["https://cdn.example"]));
  }
  assert.match(webPolicy(["https://cdn.example"]), /img-src 'self' data: blob: https:\/\/cdn\.example/);
  assert.match(webPolicy(), /script-src 'self';/);
});

test("hashed assets are immutable for a year; a missing one is a 404", async () => {
  const a = await app(built());
  const js = await a.inject({ url: "/assets/index-abc123.js" });
  assert.equal(js.statusCode, 200);
  assert.equal(js.headers["cache-control"], "public, max-age=31536000, immutable");
  assert.match(String(js.headers["content-type"]), /^text\/javascript/);
  assert.equal((await a.inject({ url: "/assets/nope.js" })).statusCode, 404);
  assert.equal((await a.inject({ url: "/assets/..%2f..%2fetc%2fpasswd" })).statusCode, 404);
});

test("the fallback never shadows the gateway's own paths or non-page requests", async () => {
  const a = await app(built());
  assert.equal((await a.inject({ method: "POST", url: "/graphql", payload: {} })).statusCode, 200);
  assert.equal((await a.inject({ url: "/healthz", headers: html })).json().status, "ok");
  for (const url of ["/graphql/x", "/media/abc/thumb.webp", "/readyz/x", "/.well-known/x", "/metrics"]) {
    const res = await a.inject({ url, headers: html });
    assert.equal(res.statusCode, 404, url);
    assert.equal(res.json().errors[0].extensions.code, "NOT_FOUND");
  }
  // An API client (no text/html in Accept) gets a JSON 404, not the page.
  assert.equal((await a.inject({ url: "/u/alice" })).statusCode, 404);
});

test("without a build there is nothing to serve", () => {
  assert.equal(registerWeb(Fastify(), { dir: mkdtempSync(join(tmpdir(), "nova-web-empty-")) }), false);
});
