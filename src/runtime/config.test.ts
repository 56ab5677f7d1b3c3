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

test("S3: S3_BUCKET switches media to S3; the settings are validated together and the keys redacted", () => {
  assert.equal(loadConfig({}).s3, undefined, "embedded: no S3 unless S3_BUCKET is set");
  const c = loadConfig({
    S3_ENDPOINT: "http://seaweedfs:8333",
    S3_BUCKET: "nova-media",
    S3_ACCESS_KEY_ID: "AKIDEXAMPLE",
    S3_SECRET_ACCESS_KEY: "wJalrXUtnFEMI-secret",
    MEDIA_PUBLIC_BASE_URL: "https://cdn.example.com/media",
  });
  assert.deepEqual(c.s3, {
    endpoint: "http://seaweedfs:8333",
    region: "us-east-1",
    bucket: "nova-media",
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI-secret",
    forcePathStyle: true,
  });
  assert.equal(c.mediaPublicBaseUrl, "https://cdn.example.com/media");
  assert.doesNotMatch(JSON.stringify(redactedConfig(c)), /wJalrXUtnFEMI|AKIDEXAMPLE/);
  // AWS itself: no endpoint, virtual-hosted addressing, the default credential chain
  const aws = loadConfig({ S3_BUCKET: "nova-media", S3_REGION: "eu-west-1" });
  assert.equal(aws.s3?.forcePathStyle, false);
  assert.equal(aws.s3?.endpoint, undefined);
  assert.equal(aws.s3?.accessKeyId, undefined);
  assert.equal(
    loadConfig({ S3_BUCKET: "b-1", S3_ENDPOINT: "https://s3.local", S3_FORCE_PATH_STYLE: "false" }).s3?.forcePathStyle,
    false,
  );

  const p = (env: NodeJS.ProcessEnv) => problems(env).join("\n");
  assert.match(p({ S3_ENDPOINT: "http://s3:8333" }), /^S3_BUCKET: required when S3_ENDPOINT is set/m);
  assert.match(p({ S3_BUCKET: "b", S3_ACCESS_KEY_ID: "k" }), /^S3_BUCKET: expected a bucket name/m);
  assert.match(p({ S3_BUCKET: "Nova_Media" }), /^S3_BUCKET: /m);
  assert.match(
    p({ S3_BUCKET: "nova-media", S3_ACCESS_KEY_ID: "k" }),
    /^S3_SECRET_ACCESS_KEY: required with S3_ACCESS_KEY_ID/m,
  );
  assert.match(p({ S3_BUCKET: "nova-media", S3_SECRET_ACCESS_KEY: "s" }), /^S3_ACCESS_KEY_ID: required with/m);
  assert.match(p({ S3_BUCKET: "nova-media", S3_ENDPOINT: "ftp://x" }), /^S3_ENDPOINT: expected an http/m);
  assert.match(p({ S3_BUCKET: "nova-media", S3_REGION: "EU West" }), /^S3_REGION: /m);
  assert.match(p({ S3_BUCKET: "nova-media", S3_FORCE_PATH_STYLE: "yes" }), /^S3_FORCE_PATH_STYLE: /m);
  assert.match(p({ MEDIA_PUBLIC_BASE_URL: "cdn.example.com" }), /^MEDIA_PUBLIC_BASE_URL: expected an http/m);
  assert.match(p({ MEDIA_PUBLIC_BASE_URL: "https://cdn.example.com/?a=1" }), /^MEDIA_PUBLIC_BASE_URL: .*without \?/m);
  const secret = p({ S3_BUCKET: "nova-media", S3_SECRET_ACCESS_KEY: "has space secret", S3_ACCESS_KEY_ID: "k" });
  assert.match(secret, /^S3_SECRET_ACCESS_KEY: /m);
  assert.doesNotMatch(secret, /has space secret/, "a secret's value never appears in an error");
});

test("S3 keys may come from *_FILE (a Kubernetes Secret)", () => {
  const dir = mkdtempSync(join(tmpdir(), "nova-cfg-"));
  writeFileSync(join(dir, "id"), "AKIDFROMFILE\n");
  writeFileSync(join(dir, "secret"), "secret-from-file\n");
  const c = loadConfig({
    S3_BUCKET: "nova-media",
    S3_ACCESS_KEY_ID_FILE: join(dir, "id"),
    S3_SECRET_ACCESS_KEY_FILE: join(dir, "secret"),
  });
  assert.equal(c.s3?.accessKeyId, "AKIDFROMFILE");
  assert.equal(c.s3?.secretAccessKey, "secret-from-file");
});
