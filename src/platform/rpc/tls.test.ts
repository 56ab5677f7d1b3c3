import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateDevCerts } from "./tls.ts";

test("a development certificate for a process serving several modules names each of them", () => {
  const dir = mkdtempSync(join(tmpdir(), "nova-tls-"));
  try {
    // A process started with --target=messaging,search is the identity "messaging+search".
    generateDevCerts(dir, { "messaging+search": ["messaging", "search"] });
    const cert = new X509Certificate(readFileSync(join(dir, "messaging+search.crt")));
    assert.match(cert.subject, /CN=messaging\\?\+search/);
    assert.match(cert.subjectAltName ?? "", /URI:spiffe:\/\/[^,]*\/messaging\b/);
    assert.match(cert.subjectAltName ?? "", /URI:spiffe:\/\/[^,]*\/search\b/);
    assert.ok(cert.checkIssued(new X509Certificate(readFileSync(join(dir, "ca.crt")))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
