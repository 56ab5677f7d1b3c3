import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig, redactedConfig } from "./config.ts";

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

test("defaults are valid", () => {
  const c = loadConfig({});
  assert.equal(c.PORT, 4000);
  assert.equal(c.HOST, "127.0.0.1");
  assert.equal(c.production, false);
});

test("a bad value names the variable", () => {
  assert.match(problems({ PORT: "eighty" }).join("\n"), /^PORT: /m);
  assert.match(problems({ PORT: "70000" }).join("\n"), /^PORT: /m);
  assert.match(problems({ DATABASE_URL: "mysql://x" }).join("\n"), /^DATABASE_URL: .*postgres/m);
  assert.match(problems({ NODE_ENV: "prod" }).join("\n"), /^NODE_ENV: /m);
  assert.match(
    problems({ LOG_LEVEL: "loud", RPC_TIMEOUT_MS: "-1" }).join("\n"),
    /LOG_LEVEL[\s\S]*RPC_TIMEOUT_MS|RPC_TIMEOUT_MS[\s\S]*LOG_LEVEL/,
  );
});

test("secrets come from *_FILE, are never echoed, and conflicts are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "nova-cfg-"));
  const f = join(dir, "db");
  writeFileSync(f, "postgres://u:secretpw@h:5432/d\n");
  const c = loadConfig({ DATABASE_URL_FILE: f });
  assert.equal(c.DATABASE_URL, "postgres://u:secretpw@h:5432/d");
  assert.equal(redactedConfig(c).DATABASE_URL, "[redacted]");
  assert.doesNotMatch(JSON.stringify(redactedConfig(c)), /secretpw/);
  assert.match(problems({ DATABASE_URL_FILE: f, DATABASE_URL: "postgres://x" }).join(), /DATABASE_URL: set either/);
  assert.match(problems({ DATABASE_URL_FILE: join(dir, "missing") }).join(), /DATABASE_URL_FILE: cannot read/);
  const bad = problems({ DATABASE_URL: "secret-not-a-url" }).join();
  assert.match(bad, /DATABASE_URL/);
  assert.doesNotMatch(bad, /secret-not-a-url/, "a secret's value never appears in an error");
});

test("peer addresses default to the module's service name and are validated", () => {
  const c = loadConfig({ IDENTITY_ADDR: "https://127.0.0.1:5000" });
  assert.equal(c.peerAddr("identity"), "https://127.0.0.1:5000");
  assert.equal(c.peerAddr("graph"), "https://graph:50051");
  assert.throws(() => loadConfig({ IDENTITY_ADDR: "http://x:1" }).peerAddr("identity"), /IDENTITY_ADDR/);
});
