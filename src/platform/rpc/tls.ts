/**
 * Service identity for mTLS. A certificate names the modules its holder runs
 * as URI SANs `spiffe://nova/<module>` (what cert-manager issues with
 * `uris:`); a server accepts a caller only when one of those modules may call
 * the service it asks for.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";

export const SPIFFE_PREFIX = "spiffe://nova/";

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function loadTls(files: { ca: string; cert: string; key: string }): TlsMaterial {
  for (const [what, f] of Object.entries(files)) {
    if (!existsSync(f)) throw new Error(`mTLS ${what} file not found: ${f} (run \`nova certs dev\` for development)`);
  }
  return { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
}

/** Module names in a peer certificate's URI SANs. */
export function peerModules(socket: TLSSocket): string[] {
  if (!socket.authorized) return [];
  const cert = socket.getPeerCertificate();
  const san = cert?.subjectaltname ?? "";
  return san
    .split(/,\s*/)
    .filter((s) => s.startsWith(`URI:${SPIFFE_PREFIX}`))
    .map((s) => s.slice(`URI:${SPIFFE_PREFIX}`.length));
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Development PKI: a CA and one certificate per identity (each identity a list
 * of modules), EC P-256, valid 90 days, for both server and client use.
 * Generated at run time into a folder outside git; never committed.
 */
export function generateDevCerts(
  dir: string,
  identities: Record<string, string[]>,
  opts: { extraSans?: string[]; force?: boolean } = {},
): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  if (opts.force || !existsSync(join(dir, "ca.crt"))) {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], dir);
    openssl(
      [
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-sha256",
        "-days",
        "90",
        "-subj",
        "/CN=nova-dev-ca",
        "-out",
        "ca.crt",
      ],
      dir,
    );
    written.push(join(dir, "ca.crt"));
  }
  for (const [name, modules] of Object.entries(identities)) {
    const sans = [
      ...modules.map((m) => `URI:${SPIFFE_PREFIX}${m}`),
      ...modules.map((m) => `DNS:${m}`),
      "DNS:localhost",
      "IP:127.0.0.1",
      ...(opts.extraSans ?? []),
    ];
    const ext = [
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=${sans.join(",")}`,
    ].join("\n");
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key.tmp`], dir);
    openssl(["pkcs8", "-topk8", "-nocrypt", "-in", `${name}.key.tmp`, "-out", `${name}.key`], dir);
    // A process serving several modules is named by them joined with "+", which a subject must escape.
    openssl(
      ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name.replaceAll("+", "\\+")}`, "-out", `${name}.csr`],
      dir,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "90",
        "-sha256",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
    execFileSync("rm", ["-f", `${name}.key.tmp`, `${name}.csr`, `${name}.ext`], { cwd: dir });
    written.push(join(dir, `${name}.crt`));
  }
  return written;
}
